"""Pick and run the loader of a general dataset from the config (``data_format``, ``data_path``, ``dataset``)."""

from __future__ import annotations

from pathlib import Path

from missrec.data.general.dataset import GeneralDataset
from missrec.data.general.jsonsplit import load_json_split, split_folder
from missrec.data.general.ml100k import NAME as ML100K_NAME
from missrec.data.general.ml100k import load_ml100k_general
from missrec.data.general.mmrec import load_mmrec
from missrec.data.general.sgfd import load_sgfd
from missrec.data.prepare.checksums import check_listed_files, read_manifest
from missrec.errors import ConfigError, DataError

DATA_FORMATS = ("auto", "mmrec", "json", "sgfd", "ml100k")


def detect_format(folder: Path, name: str) -> str:
    """``mmrec`` (``<name>.inter``), ``json`` (``[5-core/]train.json``), ``sgfd`` (``train.csv``) or ``ml100k``."""
    if name == ML100K_NAME:
        return "ml100k"
    if (folder / f"{name}.inter").is_file():
        return "mmrec"
    if (split_folder(folder) / "train.json").is_file():
        return "json"
    if (folder / "train.csv").is_file():
        return "sgfd"
    raise DataError(
        f"{folder}: expected {name}.inter (MMRec), train.json or 5-core/train.json (LATTICE/MICRO/MMSSL) or "
        f"train.csv (SGFD), found {'no such folder' if not folder.is_dir() else 'none of them'}. "
        "Fix: check data_path and the dataset name, or set data_format"
    )


def load_general_dataset(config) -> GeneralDataset:
    """Load ``config["dataset"]`` from ``config["data_path"]`` (= ``<props data_path>/<dataset>``).

    Keys: ``data_format`` (one of :data:`DATA_FORMATS`), ``modality_files`` (``{modality: file}`` or ``~`` for the
    format's standard files), ``split_seed`` (MovieLens split, SGFD validation carving), ``sgfd_valid_ratio``.
    """
    name = config["dataset"]
    data_format = config["data_format"] or "auto"
    if data_format not in DATA_FORMATS:
        raise ConfigError(f"unknown data_format '{data_format}'. Fix: one of {list(DATA_FORMATS)}")
    folder = Path(config["data_path"])  # RecBole's Config has already appended the dataset name
    root = folder.parent
    manifest = folder / f"{name}.sha256"
    if manifest.is_file():  # a built folder: every file it lists must still be the one built
        check_listed_files(manifest, read_manifest(manifest))
    if data_format == "auto":
        data_format = detect_format(folder, name)
    files = config["modality_files"]
    if files is not None and not isinstance(files, dict):
        raise ConfigError(f"modality_files must be a mapping {{modality: file}} or ~, found {files!r}. "
                          "Fix: e.g. modality_files={text: text_feat.npy, image: image_feat.npy}")
    seed = int(config["split_seed"])
    if data_format == "ml100k":
        return load_ml100k_general(root, seed, files)
    if data_format == "mmrec":
        return load_mmrec(folder, name, files)
    if data_format == "json":
        return load_json_split(folder, name, files)
    return load_sgfd(folder, name, float(config["sgfd_valid_ratio"]), seed, files)
