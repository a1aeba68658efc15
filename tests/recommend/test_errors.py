"""Bad input gets one clear error (or, for unknown ids under skip_unknown, a counted warning)."""

import json
import shutil
import warnings

import pytest

from missrec.errors import CheckpointError
from missrec.recommend import Recommender, RecommendError, UnknownItemsError
from missrec.recommend.catalogue import UnknownItemsWarning
from tests.recommend.conftest import raw_item

KNOWN = [raw_item(3), raw_item(4)]


@pytest.fixture(scope="module")
def missrec(runs):
    return Recommender.from_run(runs["missrec"])


def test_unknown_ids_are_listed_or_skipped_with_a_count(missrec):
    with pytest.raises(UnknownItemsError) as e:
        missrec.recommend([KNOWN[0], "nope", "m1O3", KNOWN[1]])
    assert e.value.unknown == ["nope", "m1O3"]
    assert "2 item id(s) not in the catalogue: 'nope', 'm1O3'" in str(e.value) and "--skip-unknown" in str(e.value)
    with pytest.warns(UnknownItemsWarning, match="skipped 2 unknown item id"):
        skipped = missrec.recommend([KNOWN[0], "nope", "m1O3", KNOWN[1]], skip_unknown=True)
    assert skipped == missrec.recommend(KNOWN)
    assert missrec.catalogue.skipped_unknown == 2


def test_empty_histories_and_bad_k_are_refused(missrec):
    with pytest.raises(RecommendError, match="history: a sequential model needs at least one item.*it is empty"):
        missrec.recommend([])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownItemsWarning)
        with pytest.raises(RecommendError, match="every id was unknown"):
            missrec.recommend(["nope"], skip_unknown=True)
    with pytest.raises(RecommendError, match="expected a list of item ids, found the string"):
        missrec.recommend(raw_item(3))
    for k in (0, -3, 2.5, True, "10"):
        with pytest.raises(RecommendError, match=r"^k: expected a positive integer"):
            missrec.recommend(KNOWN, k=k)
    with pytest.raises(RecommendError, match="either histories or users"):
        missrec.recommend_many()  # checked at the call, not at the first item
    with pytest.raises(RecommendError, match="batch_size: expected a positive integer"):
        missrec.recommend_many([KNOWN], batch_size=0)
    with pytest.raises(RecommendError, match="'nobody' is not a user of this dataset"):
        missrec.recommend_user("nobody")


def test_new_items_that_exist_or_repeat_are_refused_before_anything_changes(missrec):
    n = len(missrec.catalogue)
    with pytest.raises(RecommendError, match=r"ids: 1 item\(s\) already in the catalogue: 'm103'"):
        missrec.add_items([raw_item(3)], features={"text": [[0.0] * 384]})
    with pytest.raises(RecommendError, match="given more than once"):
        missrec.add_items(["a", "a"], features={"text": [[0.0] * 384] * 2})
    with pytest.raises(RecommendError, match=r"features\['text'\]: expected shape \(1, 384\)"):
        missrec.add_items(["a"], features={"text": [[0.0] * 10]})
    with pytest.raises(RecommendError, match=r"features: unknown modality \['image'\]"):
        missrec.add_items(["a"], features={"image": [[0.0] * 10]})
    assert len(missrec.catalogue) == n == missrec.head.n_items


@pytest.mark.parametrize("name", ["sasrec", "missrec_transductive", "lightgcn"])
def test_models_with_item_ids_cannot_add_items(runs, name):
    with pytest.raises(RecommendError, match="new items have no trained embedding.*-mode inductive"):
        Recommender.from_run(runs[name]).add_items(["new"], features={"text": [[0.0] * 384]})


def test_graph_models_need_a_user_and_only_missrec_explains(runs):
    with pytest.raises(RecommendError, match="LightGCN ranks items for known users only"):
        Recommender.from_run(runs["lightgcn"]).recommend(["1"])
    with pytest.raises(RecommendError, match="explanations are MISSRec's.*this run is SASRec"):
        Recommender.from_run(runs["sasrec"]).explain(KNOWN)


def test_a_run_folder_without_checkpoint_names_what_is_missing(runs, tmp_path):
    with pytest.raises(CheckpointError, match="no such run folder"):
        Recommender.from_run(tmp_path / "absent")
    run = tmp_path / "run"
    shutil.copytree(runs["missrec"], run)
    (run / "checkpoints" / "best.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"lacks checkpoints/best.safetensors \(the run stopped before"):
        Recommender.from_run(run)
    shutil.rmtree(run / "checkpoints")
    (run / "config.json").unlink()
    with pytest.raises(CheckpointError, match="lacks config.json, checkpoints/best.safetensors, checkpoints/best.json"):
        Recommender.from_run(run)


def test_a_changed_dataset_is_refused(runs, recs_data, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(recs_data[0] / "recs", data / "recs")
    test_file = data / "recs" / "recs.test.inter"
    lines = test_file.read_text().splitlines(keepends=True)
    test_file.write_text("".join(lines[:-1]))  # one user fewer in the test split
    with pytest.raises(CheckpointError, match=r"the dataset changed since training \(split_rows: trained .*now"):
        Recommender.from_run(runs["missrec"], overrides={"data_path": str(data)})
    meta_path = runs["missrec"] / "checkpoints" / "best.json"
    meta = json.loads(meta_path.read_text())
    assert meta["data"]["split_rows"]["test"] == 50


def test_an_unknown_id_in_a_stream_names_its_history(missrec):
    histories = [KNOWN] * 5 + [[raw_item(3), "nope"]]
    stream = missrec.recommend_many(histories, k=2, batch_size=4)
    assert len([next(stream) for _ in range(4)]) == 4  # the first batch is served before the bad history is read
    with pytest.raises(UnknownItemsError, match=r"^history 5: 1 item id\(s\) not in the catalogue: 'nope'"):
        list(stream)
