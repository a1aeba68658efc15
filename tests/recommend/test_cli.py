"""``recommend.py``: the three query forms, JSON, --all-users files, --add-items, --explain and rc 2 errors."""

import json
import re
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from missrec.recommend import Recommender
from missrec.recommend.cli import main
from tests.recommend.conftest import HELD_OUT, TWINS, raw_item

ROOT = Path(__file__).resolve().parents[2]
TWIN_IDS = [raw_item(i) for i in TWINS]


def test_history_table_and_json_agree_with_the_api(runs, capsys):
    run = str(runs["missrec"])
    assert main([run, "--history", *TWIN_IDS, "-k", "3"]) == 0
    table = capsys.readouterr().out
    expected = Recommender.from_run(run).recommend(TWIN_IDS, k=3)
    assert "MISSRec on recs (35 items)" in table
    for rank, r in enumerate(expected, 1):
        assert f"{rank}       {r.item_id}" in table and f"{r.score:.4f}" in table
    assert main([run, "--history", *TWIN_IDS, "-k", "3", "--json", "--include-history"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["history"] == TWIN_IDS and payload["exclude_history"] is False and payload["k"] == 3
    assert {i["item_id"] for i in payload["items"]} & set(TWIN_IDS)


def test_all_users_streams_every_user_to_a_file(runs, tmp_path, capsys):
    out = tmp_path / "recs.tsv"
    assert main([str(runs["sasrec"]), "--all-users", "--out", str(out), "-k", "4", "--batch-size", "7"]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "user_id\trank\titem_id\tscore\ttext" and len(lines) == 1 + 50 * 4
    rec = Recommender.from_run(runs["sasrec"])
    user, rank, item, score, _ = lines[1 + 4 * 9 + 1].split("\t")  # the 10th user's second item
    assert (user, rank) == ("user9", "2") and item == rec.recommend_user("user9", k=4)[1].item_id
    assert "wrote top-4 of 50 users" in capsys.readouterr().err
    jsonl = tmp_path / "recs.jsonl"
    assert main([str(runs["lightgcn"]), "--all-users", "--out", str(jsonl), "--json", "--no-progress"]) == 0
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(rows) == 60 and len(rows[0]["items"]) == 10 and rows[0]["user_id"] == "0"


def test_add_items_from_a_features_folder_and_explain(runs, recs_data, tmp_path, capsys):
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "items.tsv").write_text("item_id\ttext\n" + "".join(f"new{n}\tNew twin {n}\n" for n in range(3)))
    np.save(folder / "text.npy", recs_data[1]["feat1CLS"][HELD_OUT])
    np.save(folder / "kg.npy", recs_data[1]["featKG"][HELD_OUT])
    assert main([str(runs["missrec"]), "--history", *TWIN_IDS, "-k", "3", "--add-items", str(folder), "--explain"]) == 0
    out = capsys.readouterr().out
    assert "added 3 new item(s): new0, new1, new2" in out and out.count(" *  ") + out.count(" * ") >= 3
    assert "Interests of the history" in out and "[new]" in out and "New twin" in out
    assert main([str(runs["missrec"]), "--user", "user4", "--explain", "--json", "-k", "2"]) == 0
    payload = json.loads(capsys.readouterr().out)
    expected = Recommender.from_run(runs["missrec"]).recommend_user("user4", k=2)  # every item user4 saw excluded
    assert payload["user"] == "user4" and payload["history"] and [i["item_id"] for i in payload["items"]] == [
        r.item_id for r in expected] == [i["item_id"] for i in payload["explanation"]["items"]]


@pytest.mark.parametrize("args,message", [
    (["--history", "m103", "zzz"], "history: 1 item id(s) not in the catalogue: 'zzz'"),
    (["--history", "m103", "-k", "0"], "-k: expected a positive integer"),
    (["--all-users"], "--all-users writes one list per user: give --out"),
    (["--user", "nobody"], "user: 'nobody' is not a user of this dataset"),
])
def test_bad_input_is_one_error_line_and_rc_2(runs, capsys, args, message):
    assert main([str(runs["missrec"]), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_one_query_form_at_a_time(runs, capsys):
    with pytest.raises(SystemExit) as e:
        main([str(runs["missrec"]), "--user", "user1", "--all-users"])
    assert e.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_skip_unknown_warns_with_a_count_and_the_checkpoint_form_works(runs, capsys):
    ckpt = runs["missrec"] / "checkpoints" / "best.safetensors"
    assert main([str(ckpt), "--history", "m103", "zzz", "yyy", "--skip-unknown", "--json"]) == 0
    captured = capsys.readouterr()
    assert "warning: history: skipped 2 unknown item id(s): zzz, yyy" in captured.err
    assert json.loads(captured.out)["items"][0]["item_id"] == Recommender.from_run(runs["missrec"]).recommend(["m103"])[0].item_id


def test_missing_checkpoint_is_rc_2_from_the_entry_point(tmp_path, monkeypatch, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    monkeypatch.setattr(sys, "argv", ["recommend.py", str(tmp_path / "run"), "--user", "1"])
    with pytest.raises(SystemExit) as e:
        runpy.run_path(str(ROOT / "recommend.py"), run_name="__main__")
    captured = capsys.readouterr()
    assert e.value.code == 2 and captured.out == ""
    assert captured.err.startswith("error: ") and "lacks checkpoints/best.safetensors, checkpoints/best.json" in captured.err


def test_the_readme_recommend_commands_use_real_options():
    from missrec.recommend.cli import build_parser
    from tests.test_readme import readme_commands

    commands = [c for c in readme_commands() if c.startswith("python recommend.py")]
    assert len(commands) >= 4
    help_text = build_parser().format_help()
    for command in commands:
        for flag in re.findall(r"\s(--?[a-z][\w-]*)", command):
            assert flag in help_text, (flag, command)
