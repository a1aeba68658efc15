"""RecBole dataset for UniSRec/MISSRec benchmark folders with any number of modality feature tables."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from recbole.data.dataset import SequentialDataset

from missrec.data.atomic import validate_benchmark
from missrec.data.features import count_index_rows, infer_feature_dim, read_feature_file
from missrec.data.prepare.checksums import check_listed_files
from missrec.errors import data_error


def truncate_histories(item_seq: torch.Tensor, lengths: torch.Tensor, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep the ``max_len`` most recent items of right-padded histories.

    Args:
        item_seq: ``[N, L]`` item ids, oldest first, right-padded with 0.
        lengths: ``[N]`` number of real items per row.
        max_len: history length to keep.

    Returns:
        ``([N, min(L, max_len)], [N])`` truncated histories and lengths.
    """
    if item_seq.shape[1] <= max_len:
        return item_seq, lengths
    start = (lengths - max_len).clamp(min=0)  # [N]
    offsets = torch.arange(max_len)
    index = (start.unsqueeze(1) + offsets).clamp(max=item_seq.shape[1] - 1)  # [N, max_len]
    new_lengths = lengths.clamp(max=max_len)
    kept = item_seq.gather(1, index)
    return torch.where(offsets < new_lengths.unsqueeze(1), kept, 0), new_lengths


class MultimodalSequentialDataset(SequentialDataset):
    """Benchmark files ``<ds>.{train,valid,test}.inter`` plus modality features aligned to RecBole's item ids.

    ``modality_features[name]`` is a float32 tensor ``[n_items, d]`` whose row ``i`` belongs to RecBole's internal
    item id ``i`` (row 0 = ``[PAD]`` = zeros). The modalities come from the ``modalities`` config key
    (``{name: suffix}``); each is read from ``<data_path>/<ds>.<suffix>`` and validated (size, rows, finiteness,
    coverage of every item token). When the folder has a manifest ``<ds>.sha256``, the files read are first
    checked against it.
    """

    def __init__(self, config) -> None:
        data_dir = Path(config["data_path"])
        check_listed_files(data_dir / f"{config['dataset']}.sha256", self._files_read(config))
        self.split_rows = validate_benchmark(data_dir, config["dataset"], config["benchmark_filename"])
        with warnings.catch_warnings():  # RecBole's pandas-2 FutureWarnings (chained fillna, agg(len))
            warnings.simplefilter("ignore", FutureWarning)
            super().__init__(config)
        self.modality_features = self._load_modalities(config, data_dir)

    def _files_read(self, config) -> list[str]:
        """Names of the files this dataset reads from its folder."""
        name = config["dataset"]
        return [f"{name}.{split}.inter" for split in config["benchmark_filename"]] + [f"{name}.item2index"] + [
            f"{name}.{suffix}" for suffix in (config["modalities"] or {}).values()
        ]

    def build(self) -> list[MultimodalSequentialDataset]:
        """RecBole's split into [train, valid, test], with histories truncated to ``MAX_ITEM_LIST_LENGTH``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            splits = super().build()
        seq_field, len_field = self.item_id_list_field, self.item_list_length_field
        for split in splits:
            feat = split.inter_feat
            feat[seq_field], feat[len_field] = truncate_histories(
                feat[seq_field], feat[len_field], self.config["MAX_ITEM_LIST_LENGTH"]
            )
        return splits

    def _item_rows(self, index_path: Path, n_rows: int) -> np.ndarray:
        """Feature row of every internal item id (-1 for [PAD])."""
        tokens = self.field2id_token[self.iid_field]
        rows = np.full(len(tokens), -1, dtype=np.int64)
        for internal, token in enumerate(map(str, tokens[1:]), 1):
            if not token.isdigit() or int(token) >= n_rows:
                raise data_error(
                    index_path,
                    f"every item token of the .inter files to be an index below {n_rows}",
                    f"item token {token!r} absent from the id map",
                    "use the .item2index and features that belong to these .inter files",
                )
            rows[internal] = int(token)
        return rows

    def _load_modalities(self, config, data_dir: Path) -> dict[str, torch.Tensor]:
        name = config["dataset"]
        modalities = config["modalities"] or {}
        dims = config["modality_dims"] or {}
        index_path = data_dir / f"{name}.item2index"
        n_rows = count_index_rows(index_path) if index_path.is_file() else None
        features: dict[str, torch.Tensor] = {}
        rows = None
        for modality, suffix in modalities.items():
            path = data_dir / f"{name}.{suffix}"
            if modality in dims:
                dim = int(dims[modality])
            elif n_rows is not None:
                dim = infer_feature_dim(path, n_rows) if path.is_file() else 1
            else:
                raise data_error(
                    index_path,
                    f"an id map to infer the dimension of modality '{modality}'",
                    "no such file",
                    f"add {index_path.name} or set modality_dims: {{{modality}: <d>}}",
                )
            table = read_feature_file(path, dim, n_rows)
            if rows is None:
                rows = self._item_rows(index_path, table.shape[0])
            aligned = np.zeros((len(rows), dim), dtype=np.float32)
            aligned[1:] = table[rows[1:]]
            features[modality] = torch.from_numpy(aligned)
        return features
