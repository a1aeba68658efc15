"""General (user-item) recommendation data for the graph models.

* :class:`GeneralDataset` (:mod:`.dataset`): U, I, train/valid/test pairs, ordered modality tables, item labels;
* loaders: :func:`load_mmrec` (``<ds>.inter`` + ``*_feat.npy``), :func:`load_json_split` (LATTICE/MICRO/MMSSL),
  :func:`load_sgfd` (``train.csv``/``test.csv``, validation carved from train), :func:`load_ml100k_general`
  (the embedded MovieLens-100K); :func:`load_general_dataset` picks one from the config;
* :class:`BPRTrainLoader` (:mod:`.loader`): device-resident (user, positive, negative) batches.
"""

from missrec.data.general.dataset import SPLITS, GeneralDataset
from missrec.data.general.jsonsplit import load_json_split
from missrec.data.general.load import DATA_FORMATS, detect_format, load_general_dataset
from missrec.data.general.loader import BPRTrainLoader
from missrec.data.general.ml100k import load_ml100k_general
from missrec.data.general.mmrec import load_mmrec
from missrec.data.general.sgfd import load_sgfd

__all__ = [
    "BPRTrainLoader",
    "DATA_FORMATS",
    "GeneralDataset",
    "SPLITS",
    "detect_format",
    "load_general_dataset",
    "load_json_split",
    "load_ml100k_general",
    "load_mmrec",
    "load_sgfd",
]
