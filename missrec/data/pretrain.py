"""The multi-domain pre-training corpus in the UniSRec/MISSRec layout (spec missrec.md §1.2), read unchanged.

A corpus folder ``<data_path>/<corpus>/`` holds ``<corpus>.train.inter`` whose tokens are ``"<d>-<id>"`` (domain
``d`` = 0-based position in ``<corpus>.pt_datasets``), ``<corpus>.pt_datasets`` (one line: the comma-separated
domain names) and each domain's feature files ``<domain>.<suffix>`` (and ``<domain>.item2index``). The feature of
token ``"d-i"`` is row ``i`` of domain ``d``'s file. ``.feat2CLS`` (word-dropped text) is used for the word-drop
augmentation when every domain has it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from missrec.data.dataset import MultimodalSequentialDataset
from missrec.data.features import count_index_rows, infer_feature_dim, read_feature_file
from missrec.errors import data_error


def read_pt_datasets(path: Path) -> list[str]:
    """Domain names of a corpus, in order."""
    if not path.is_file():
        raise data_error(path, "the corpus's domain list (one line: Domain1,Domain2,...)", "no such file",
                         "add <corpus>.pt_datasets (UniSRec ships it in pretrain-datasets.zip) or rebuild the corpus")
    domains = [d.strip() for d in path.read_text(encoding="utf-8").strip().split(",") if d.strip()]
    if not domains:
        raise data_error(path, "comma-separated domain names", "an empty file", "list the domains in token order")
    return domains


def parse_token(token: str, n_domains: int, source: Path) -> tuple[int, int]:
    """``"3-127"`` -> ``(3, 127)``, validated."""
    domain, sep, row = token.partition("-")
    if not sep or not domain.isdigit() or not row.isdigit() or int(domain) >= n_domains:
        raise data_error(source, f"item tokens '<domain>-<index>' with domain < {n_domains}", f"token {token!r}",
                         "use the corpus's .pt_datasets and .train.inter built together")
    return int(domain), int(row)


class MultiDomainSequentialDataset(MultimodalSequentialDataset):
    """``modality_features[name]`` ``[n_items, d]`` gathered from each item's domain file; ``domains`` in order;
    ``item_domain`` ``[n_items]`` (-1 for PAD); ``text_aug_features`` or None."""

    def _files_read(self, config) -> list[str]:
        """The corpus's interactions and domain list, and every domain's id map and feature files."""
        name = config["dataset"]
        data_dir = Path(config["data_path"])
        listed = data_dir / f"{name}.pt_datasets"
        domains = read_pt_datasets(listed) if listed.is_file() else []
        suffixes = [*(config["modalities"] or {}).values(), *([config["text_aug_suffix"]] if config["text_aug_suffix"] else [])]
        per_domain = [f"{d}.{s}" for d in domains for s in ["item2index", *suffixes]]
        return [f"{name}.{split}.inter" for split in config["benchmark_filename"]] + [listed.name, *per_domain]

    def _load_modalities(self, config, data_dir: Path) -> dict[str, torch.Tensor]:
        name = config["dataset"]
        self.domains = read_pt_datasets(data_dir / f"{name}.pt_datasets")
        tokens = [str(t) for t in self.field2id_token[self.iid_field]]
        source = data_dir / f"{name}.train.inter"
        parsed = [parse_token(t, len(self.domains), source) for t in tokens[1:]]
        domain_of = np.array([-1] + [d for d, _ in parsed])
        row_of = np.array([-1] + [r for _, r in parsed])
        self.item_domain = torch.from_numpy(domain_of)
        dims = config["modality_dims"] or {}
        features = {
            m: self._gather(data_dir, suffix, dims.get(m), domain_of, row_of)
            for m, suffix in (config["modalities"] or {}).items()
        }
        aug_suffix = config["text_aug_suffix"]
        have_aug = aug_suffix and "text" in features and all(
            (data_dir / f"{d}.{aug_suffix}").is_file() for d in self.domains
        )
        self.text_aug_features = (
            self._gather(data_dir, aug_suffix, features["text"].shape[1], domain_of, row_of) if have_aug else None
        )
        return features

    def _gather(self, data_dir: Path, suffix: str, dim: int | None, domain_of: np.ndarray, row_of: np.ndarray) -> torch.Tensor:
        """Rows of every item from its domain's ``<domain>.<suffix>`` file -> ``[n_items, d]``."""
        out = None
        for d, domain in enumerate(self.domains):
            path = data_dir / f"{domain}.{suffix}"
            index = data_dir / f"{domain}.item2index"
            n_rows = count_index_rows(index) if index.is_file() else None
            if dim is None:
                if n_rows is None:
                    raise data_error(index, "a domain id map to infer the feature dimension", "no such file",
                                     "place <domain>.item2index in the corpus folder or set modality_dims")
                dim = infer_feature_dim(path, n_rows) if path.is_file() else 1
            table = read_feature_file(path, dim, n_rows)
            mine = np.flatnonzero(domain_of == d)
            if mine.size and row_of[mine].max() >= table.shape[0]:
                raise data_error(path, f"a row for every item token of domain {d}", f"{table.shape[0]} rows, token "
                                 f"'{d}-{row_of[mine].max()}'", "use the features built with this corpus")
            if out is None:
                out = np.zeros((len(domain_of), dim), dtype=np.float32)
            out[mine] = table[row_of[mine]]
        return torch.from_numpy(out)
