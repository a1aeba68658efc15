"""Props layering into a RecBole ``Config``: ``props/<Model>.yaml`` + stage yaml + dataset yaml + user files +
``key=value`` overrides, in that order. Unknown keys are an error that names the closest valid keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from missrec.compat import SafeConfig
from missrec.errors import ConfigError, closest
from missrec.validation import check_dataset_name, validate_combination, validate_kinds, validate_values

REPO_ROOT = Path(__file__).resolve().parent.parent
PROPS_DIR = REPO_ROOT / "props"
DATASET_PROPS_DIR = PROPS_DIR / "datasets"
_RECBOLE_PROPS = Path(__import__("recbole").__file__).resolve().parent / "properties"

# Keys the code sets or reads that no yaml defines.
RUNTIME_KEYS = {"model", "dataset", "config_files", "output_dir"}


class NumberLoader(yaml.SafeLoader):
    """YAML's safe loader, reading ``1e-4`` as a number (YAML 1.1 wants ``1.0e-4``; users write ``1e-4``)."""


NumberLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str) -> Any:
    """Parse YAML text with :class:`NumberLoader`."""
    return yaml.load(text, Loader=NumberLoader)  # noqa: S506 - a SafeLoader subclass


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read one props file; a file that is not a mapping is an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such props file. Fix: check the path")
    try:
        data = load_yaml(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML ({e}). Fix: correct the syntax") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of key: value, found {type(data).__name__}")
    return data


def _keys_of(paths: Iterable[Path]) -> set[str]:
    keys: set[str] = set()
    for p in paths:
        if p.is_file():
            keys |= set(yaml.safe_load(p.read_text(encoding="utf-8")) or {})
    return keys


def explicit_keys(extra_props: Sequence[str | Path], overrides: Mapping[str, Any]) -> set[str]:
    """The keys a run sets beyond the default props: its overrides and the keys of its extra props files."""
    return set(overrides) | _keys_of(map(Path, extra_props))


def known_keys(model_name: str) -> set[str]:
    """Every key a config may set: RecBole's overall/dataset/model defaults, all our props and runtime keys."""
    recbole_files = [
        _RECBOLE_PROPS / "overall.yaml",
        _RECBOLE_PROPS / "dataset" / "sample.yaml",
        _RECBOLE_PROPS / "model" / f"{model_name}.yaml",
        *(_RECBOLE_PROPS / "quick_start_config").glob("*.yaml"),
    ]
    ours = list(PROPS_DIR.rglob("*.yaml"))
    return _keys_of(recbole_files) | _keys_of(ours) | RUNTIME_KEYS


def check_keys(values: Mapping[str, Any], valid: set[str], source: str) -> None:
    """Raise :class:`ConfigError` for the first key of ``values`` not in ``valid``."""
    for key in values:
        if key not in valid:
            hint = closest(key, valid)
            suggestion = f"did you mean {', '.join(hint)}?" if hint else "see the props/*.yaml files for valid keys"
            raise ConfigError(f"{source}: unknown config key '{key}'. Fix: {suggestion}")


def run_settings(overrides: Mapping[str, Any] | None, device: str | None = None, epochs: int | None = None,
                 **flags: Any) -> dict[str, Any]:
    """A run's settings over the props: its overrides, then the entry point's flags (``device`` and ``epochs``
    when given, and any other flag such as ``train_stage``)."""
    given = {"device": device, "epochs": epochs}
    return {**(overrides or {}), **flags, **{k: v for k, v in given.items() if v is not None}}


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["epochs=5", "topk=[10,20]"]`` -> ``{"epochs": 5, "topk": [10, 20]}`` (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override '{item}': expected key=value. Fix: e.g. learning_rate=0.0005")
        try:
            out[key.strip()] = load_yaml(value)
        except yaml.YAMLError as e:
            raise ConfigError(f"override '{item}': the value is not valid YAML ({e})") from e
    return out


def stage_props(model_name: str, stage: str, dataset: str) -> list[Path]:
    """Default props files: ``props/<Model>.yaml``, ``props/<stage>.yaml``, ``props/<stage>/<Model>.yaml`` (a
    model's own settings for a stage, e.g. UniSRec's pre-training budget) and ``props/datasets/<dataset>.yaml``."""
    files = [PROPS_DIR / f"{model_name}.yaml", PROPS_DIR / f"{stage}.yaml", PROPS_DIR / stage / f"{model_name}.yaml",
             DATASET_PROPS_DIR / f"{dataset}.yaml"]
    return [f for f in files if f.is_file()]


def build_config(
    model: type,
    dataset: str,
    stage: str = "finetune",
    extra_props: Sequence[str | Path] = (),
    overrides: Mapping[str, Any] | None = None,
) -> SafeConfig:
    """Layer the props files and overrides into a validated RecBole config (:mod:`missrec.validation`: types,
    ranges and agreeing keys are checked here, before any data is read).

    Args:
        model: the model class (its ``__name__`` selects ``props/<Model>.yaml``).
        dataset: dataset name (folder under ``data_path``).
        stage: ``finetune`` or ``pretrain`` (selects ``props/<stage>.yaml``).
        extra_props: user yaml files layered after the defaults.
        overrides: ``key: value`` pairs applied last.
    """
    check_dataset_name(dataset)
    valid = known_keys(model.__name__)
    merged: dict[str, Any] = {}
    defaults = stage_props(model.__name__, stage, dataset)
    for path in [*defaults, *map(Path, extra_props)]:
        values = read_yaml(path)
        check_keys(values, valid, str(path))
        if path not in defaults:
            validate_kinds(merged, values, str(path))
        merged.update(values)
    overrides = dict(overrides or {})
    check_keys(overrides, valid, "overrides")
    validate_kinds(merged, overrides, "overrides")
    merged.update(overrides)
    merged["data_path"] = str(_resolve_data_path(merged.get("data_path", "datasets/downstream/")))
    validate_values(merged)
    try:
        config = SafeConfig(model=model, dataset=dataset, config_dict=merged)
    except (ValueError, KeyError, TypeError, NotImplementedError) as e:
        raise ConfigError(f"invalid configuration: {e}") from e
    validate_combination(config)
    return config


def _resolve_data_path(path: str) -> Path:
    """Relative data paths are taken from the working directory when they exist there, else from the repo root."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    return REPO_ROOT / p
