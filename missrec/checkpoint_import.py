"""Import the original authors' ``.pth`` checkpoints (MISSRec, UniSRec) without unrestricted unpickling.

The released files (``MISSRec-FHCKM_mm_full-100[-gamma1e-4].pth``) are ``torch.save`` zip pickles of
``{'config': <RecBole 1.0.1 Config>, 'epoch': 99, 'state_dict': ..., 'optimizer': ...}`` (spec missrec.md §1.3).
A plain ``torch.load`` would import whatever the pickle names and call it; ``weights_only=True`` refuses the Config.
Here the pickle goes through :class:`RestrictedUnpickler`, which decides every global the file names:

* tensors and containers resolve to the real objects: torch's tensor rebuild functions, ``collections.OrderedDict``,
  torch dtypes, ``torch.Size``, sets, and protocol-2 byte strings (``_codecs.encode``, latin-1 only);
* the inert configuration classes (``recbole.*``, ``yaml.*``, ``torch.device``, numpy scalars and dtypes, and the
  original repositories' ``config.Config``, ``missrec.MISSRec``, ``unisrec.UniSRec``) resolve to :class:`InertStub`
  classes that only record their arguments and state; nothing is imported;
* any other global (``os.system``, ``subprocess.Popen``, ``builtins.eval`` ...) is refused with one
  :class:`CheckpointError` naming it, before anything could call it.

The state dict is then mapped to our names (:func:`map_state_dict`). Command line:
``python -m missrec.checkpoint_import <in.pth> <out_stem>`` writes our safetensors + JSON checkpoint.
"""

from __future__ import annotations

import _compat_pickle
import argparse
import collections
import pickle
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from missrec.checkpoint import save_checkpoint
from missrec.cli.common import run_reporting_errors
from missrec.errors import CheckpointError

# ---- what the unpickler may resolve ------------------------------------------------------------------------------
_TORCH_DTYPES = {name for name in dir(torch) if isinstance(getattr(torch, name), torch.dtype)}
_REAL_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): torch._utils._rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch", "Size"): torch.Size,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
    ("builtins", "bytearray"): bytearray,
}
_STUB_MODULES = ("recbole", "yaml")  # and their submodules: configuration classes, enums, yaml loaders
_STUB_GLOBALS = {
    ("torch", "device"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    # top-level modules of the original repositories: the pre-training Config subclass and the model classes
    ("config", "Config"),
    ("missrec", "MISSRec"),
    ("unisrec", "UniSRec"),
}


class InertStub:
    """Stand-in for a class or function named in a checkpoint's pickled configuration.

    Calling it, or unpickling an instance of it, only records ``args``, ``kwargs`` and the pickled ``state``;
    it runs no code of the class it replaces. ``pickled_name`` is the ``module.name`` the file referred to.
    """

    pickled_name = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> InertStub:
        obj = super().__new__(cls)
        obj.args, obj.kwargs, obj.state = args, kwargs, None
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # the arguments were recorded by __new__
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def plain(self) -> Any:
        """A JSON-friendly rendering: devices as ``cuda:0``, numpy numbers as numbers, others as ``Name(args)``."""
        short = self.pickled_name.rsplit(".", 1)[-1]
        if self.pickled_name == "torch.device" and self.args:
            return ":".join(str(a) for a in self.args)
        if short == "scalar" and len(self.args) == 2:
            value = _numpy_scalar(*self.args)
            if value is not None:
                return value
        return f"{short}({', '.join(repr(plain(a)) for a in self.args)})"

    def __repr__(self) -> str:
        return f"<inert {self.pickled_name} args={self.args!r}>"


_STUB_CLASSES: dict[tuple[str, str], type] = {}


def _stub_class(module: str, name: str) -> type:
    key = (module, name)
    if key not in _STUB_CLASSES:
        _STUB_CLASSES[key] = type(name, (InertStub,), {"pickled_name": f"{module}.{name}", "__module__": __name__})
    return _STUB_CLASSES[key]


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocol 2 uses it for ``bytes`` objects, and nothing else."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise CheckpointError(f"refused _codecs.encode with encoding {encoding!r}: protocol-2 bytes are latin-1 only")
    return text.encode("latin1")


_NUMPY_NUMBER_CODES = {"f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1"}


def _numpy_scalar(dtype: Any, data: Any) -> float | int | bool | None:
    """Decode a pickled numpy number (``best_valid_score`` in RecBole 1.0.1 checkpoints) if it is a plain one."""
    code = dtype.args[0] if isinstance(dtype, InertStub) and dtype.args else None
    if not isinstance(code, str) or code not in _NUMPY_NUMBER_CODES:
        return None
    order = dtype.state[1] if isinstance(dtype.state, tuple) and len(dtype.state) > 1 else "<"
    if order not in ("<", ">", "|", "="):
        return None
    try:
        return np.frombuffer(bytes(data), dtype=np.dtype(order + code))[0].item()
    except (TypeError, ValueError):
        return None


class RestrictedUnpickler(pickle.Unpickler):
    """A pickle reader that resolves only tensor/container globals, stubs the inert config classes and refuses
    everything else (see the module docstring)."""

    def find_class(self, module: str, name: str) -> Any:
        # protocol-2 pickles (torch.save's default) name Python-2 modules (__builtin__, copy_reg, commands):
        # map them to Python 3's, as pickle's own find_class does, before deciding
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        if (module, name) in _REAL_GLOBALS:
            return _REAL_GLOBALS[(module, name)]
        if module == "_codecs" and name == "encode":
            return _latin1_encode
        if module == "torch" and name in _TORCH_DTYPES:
            return getattr(torch, name)
        if (module, name) in _STUB_GLOBALS or module.split(".", 1)[0] in _STUB_MODULES:
            return _stub_class(module, name)
        raise CheckpointError(
            f"refused to load: the pickle names the global '{module}.{name}', which a checkpoint has no use for and "
            "which could run code; nothing from the file was executed"
        )


def _restricted_load(file, **kwargs: Any) -> Any:
    return RestrictedUnpickler(file, **kwargs).load()


# torch.load(pickle_module=...) needs a module-like object with Unpickler and load
restricted_pickle = types.ModuleType("missrec_restricted_pickle")
restricted_pickle.Unpickler = RestrictedUnpickler
restricted_pickle.load = _restricted_load


def safe_torch_load(path: str | Path) -> Any:
    """``torch.load`` of ``path`` on the CPU through :class:`RestrictedUnpickler`; any failure is one
    :class:`CheckpointError` (a refused global, or a truncated/corrupt file)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file. Fix: check the path")
    try:
        return torch.load(path, map_location="cpu", pickle_module=restricted_pickle, weights_only=False)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}. Fix: only load checkpoints from a source you trust") from None
    except Exception as e:  # zip, pickle and storage errors of truncated or corrupt files
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: {e}). Fix: re-download the file"
        ) from e


def plain(value: Any, depth: int = 0) -> Any:
    """JSON-friendly copy of an unpickled value: stubs rendered by :meth:`InertStub.plain`, tensors by shape."""
    if depth > 20:
        return "..."
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, InertStub):
        return value.plain()
    if isinstance(value, type):
        return getattr(value, "pickled_name", None) or value.__name__
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else f"tensor{list(value.shape)}"
    if isinstance(value, Mapping):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v, depth + 1) for v in value]
    return repr(value)


# ---- key mapping -------------------------------------------------------------------------------------------------
RECOMPUTED = {
    "plm_embedding.weight": "frozen text feature table: rebuilt from the dataset's features",
    "img_embedding.weight": "frozen image feature table: rebuilt from the dataset's features",
    "plm_interest_lookup_table": "interest buffer: recomputed by interest discovery before every epoch",
    "img_interest_lookup_table": "interest buffer: recomputed by interest discovery before every epoch",
    "interest_embeddings": "interest buffer: recomputed by interest discovery before every epoch",
}
LEGACY_MOE = "legacy MoE adaptor of an earlier internal version: the released MISSRec has none (spec §2.2)"
MISSREC_RENAMES = (
    ("text_adaptor.", "adaptors.text."),
    ("img_adaptor.", "adaptors.image."),
    ("fusion_factor", "fusion.fusion_factor"),
)
CONFIG_KEYS = (
    "model", "dataset", "train_stage", "hidden_size", "n_layers", "n_heads", "inner_size", "hidden_dropout_prob",
    "attn_dropout_prob", "hidden_act", "layer_norm_eps", "initializer_range", "MAX_ITEM_LIST_LENGTH", "temperature",
    "modal_type", "plm_size", "img_size", "plm_suffix", "img_suffix", "item_mm_fusion", "seq_mm_fusion", "id_type",
    "interest_ratio", "lambda", "gamma", "n_exps", "adaptor_layers", "adaptor_dropout_prob", "train_batch_size",
    "learning_rate", "seed", "device",
)  # fmt: skip


def map_state_dict(
    state: Mapping[str, torch.Tensor], source_model: str
) -> tuple[dict[str, torch.Tensor], dict[str, str], dict[str, str]]:
    """Rename the authors' keys to ours and drop what is rebuilt or obsolete.

    MISSRec: ``text_adaptor.*`` -> ``adaptors.text.*``, ``img_adaptor.*`` -> ``adaptors.image.*``,
    ``fusion_factor`` -> ``fusion.fusion_factor``; feature tables and interest buffers dropped (rebuilt);
    ``moe_adaptor.*`` / ``text_moe_adaptor.*`` dropped (legacy). UniSRec: names already match ours; its text feature
    table is dropped. Every other key is kept as it is, so a load reports it if the model lacks it.

    Returns:
        ``(state, renamed {old: new}, dropped {key: reason})``.
    """
    out: dict[str, torch.Tensor] = {}
    renamed: dict[str, str] = {}
    dropped: dict[str, str] = {}
    for key, value in state.items():
        if key in RECOMPUTED:
            dropped[key] = RECOMPUTED[key]
            continue
        new = key
        if source_model == "MISSRec":
            if key.startswith(("moe_adaptor.", "text_moe_adaptor.")):
                dropped[key] = LEGACY_MOE
                continue
            for old, ours in MISSREC_RENAMES:
                if key == old or (old.endswith(".") and key.startswith(old)):
                    new = ours + key[len(old):]
                    break
        if new in out:
            raise CheckpointError(f"two checkpoint keys map to '{new}'; the file is not a {source_model} checkpoint")
        if new != key:
            renamed[key] = new
        out[new] = value
    return out, renamed, dropped


def config_values(config: Any) -> dict[str, Any]:
    """The plain values of a pickled RecBole ``Config`` (its ``final_config_dict``), or ``{}``."""
    if isinstance(config, InertStub) and isinstance(config.state, Mapping):
        config = config.state.get("final_config_dict", {})
    return plain(config) if isinstance(config, Mapping) else {}


def source_model_of(config: Mapping[str, Any], state: Mapping[str, torch.Tensor]) -> str:
    """``MISSRec`` or ``UniSRec``: the config's model name, else recognised from the keys (SASRec's encoder)."""
    name = config.get("model")
    if name in ("MISSRec", "UniSRec"):
        return name
    return "UniSRec" if any(k.startswith("trm_encoder.") for k in state) else "MISSRec"


def import_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read an authors' ``.pth`` checkpoint safely and map it to our names.

    Returns:
        ``(state_dict, meta)``; ``meta`` holds ``model``, ``epoch``, ``config`` (the readable hyper-parameters:
        ``hidden_size``, ``plm_size``, ``modal_type`` ...), ``renamed``, ``dropped`` and ``source``.
    """
    path = Path(path)
    raw = safe_torch_load(path)
    if not isinstance(raw, Mapping) or not isinstance(raw.get("state_dict"), Mapping):
        found = sorted(map(str, raw)) if isinstance(raw, Mapping) else type(raw).__name__
        raise CheckpointError(
            f"{path}: expected the authors' format {{'config', 'epoch', 'state_dict', 'optimizer'}}, found {found}"
        )
    state = raw["state_dict"]
    bad = [str(k) for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{path}: state_dict entries that are not named tensors: {bad[:5]}")
    config = config_values(raw.get("config"))
    model = source_model_of(config, state)
    mapped, renamed, dropped = map_state_dict(state, model)
    meta = {
        "model": model,
        "epoch": plain(raw.get("epoch")),
        "config": {k: config[k] for k in CONFIG_KEYS if k in config},
        "renamed": renamed,
        "dropped": dropped,
        "source": {"file": path.name, "format": "torch pickle (the authors' release)",
                   "entries": sorted(map(str, raw)), "best_valid_score": plain(raw.get("best_valid_score"))},
    }
    return mapped, meta


# ---- command line ------------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m missrec.checkpoint_import",
        description="Convert an original MISSRec/UniSRec .pth checkpoint to our safetensors + JSON checkpoint, "
        "without executing anything from the file.",
    )
    parser.add_argument("checkpoint", help="the authors' .pth file, e.g. MISSRec-FHCKM_mm_full-100.pth")
    parser.add_argument("out_stem", help="output stem: writes <out_stem>.safetensors and <out_stem>.json")
    args = parser.parse_args(argv)

    def convert() -> None:
        state, meta = import_checkpoint(args.checkpoint)
        weights = save_checkpoint(args.out_stem, state, meta)
        print(f"{weights}: {len(state)} tensors of a {meta['model']} checkpoint (epoch {meta['epoch']}); "
              f"renamed {len(meta['renamed'])}, dropped {len(meta['dropped'])}: {sorted(meta['dropped'])}")

    return run_reporting_errors(convert)


if __name__ == "__main__":
    raise SystemExit(main())
