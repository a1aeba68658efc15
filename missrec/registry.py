"""Model registry: the CLI runs any registered model by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from missrec.errors import ConfigError, closest


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its class, the props stage/kind it belongs to and the fine-tuning modes it supports."""

    cls: type
    kind: str  # "sequential" or "general"
    modes: tuple[str, ...]


MODELS: dict[str, ModelEntry] = {}


def register_model(
    name: str, kind: str = "sequential", modes: tuple[str, ...] = ("transductive",)
) -> Callable[[type], type]:
    """Class decorator: ``@register_model("MISSRec", modes=("transductive", "inductive"))``."""

    def wrap(cls: type) -> type:
        if name in MODELS and MODELS[name].cls is not cls:
            raise ValueError(f"model name '{name}' registered twice")
        MODELS[name] = ModelEntry(cls, kind, modes)
        return cls

    return wrap


def get_model(name: str) -> ModelEntry:
    """Look a model up by name; an unknown name names the closest registered ones."""
    import missrec.models  # noqa: F401  (registers the built-in models)

    if name not in MODELS:
        hint = closest(name, MODELS)
        raise ConfigError(
            f"unknown model '{name}'. Fix: " + (f"did you mean {', '.join(hint)}?" if hint else f"one of {sorted(MODELS)}")
        )
    return MODELS[name]
