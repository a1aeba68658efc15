"""Configuration values checked before any data is read or any epoch is spent: types, ranges and the keys that
must agree (``n_heads`` divides ``hidden_size``; ``valid_metric`` is one of the computed metrics at one of the
``topk`` cutoffs). Every problem is one :class:`ConfigError` naming the key, what was found and the fix.

Dataset names are plain names (:func:`check_dataset_name`): a dataset elsewhere is reached through ``data_path``,
so no name can make a run read or write outside its folders.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from missrec.errors import ConfigError
from missrec.evaluation.metrics import METRICS
from missrec.modules.kmeans import BACKENDS, INITS

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")


def check_dataset_name(name: str) -> None:
    """Refuse a dataset name that is not a plain folder name (``../x``, ``/abs``, ``a/b``, empty)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or set(name) == {"."}:
        raise ConfigError(
            f"dataset name {name!r} is not a plain name (letters, digits, _ . + - and no path). "
            "Fix: pass the folder's name with -d, and reach a folder elsewhere with data_path=<its parent folder>"
        )


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# rule: (accepts, expectation, fix)
Rule = tuple[Callable[[Any], bool], str, str]
_POS_INT: Rule = (lambda v: _is_int(v) and v >= 1, "an integer >= 1", "a whole number such as {example}")
_NONNEG_INT: Rule = (lambda v: _is_int(v) and v >= 0, "an integer >= 0", "a whole number such as {example}")
_POSITIVE: Rule = (lambda v: _is_number(v) and v > 0, "a number > 0", "a positive number such as {example}")
_NONNEG: Rule = (lambda v: _is_number(v) and v >= 0, "a number >= 0", "a number such as {example}")
_DROPOUT: Rule = (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)", "a probability such as {example}")
_PROBABILITY: Rule = (lambda v: _is_number(v) and 0 <= v <= 1, "a number in [0, 1]", "a probability such as {example}")
_RATIO: Rule = (lambda v: _is_number(v) and 0 < v <= 1, "a number in (0, 1]", "a share such as {example}")


def _one_of(choices) -> Rule:
    return (lambda v: v in choices, f"one of {', '.join(choices)}", "one of the listed values")


RULES: dict[str, tuple[Rule, Any]] = {
    # key: (rule, example in the fix)
    "train_batch_size": (_POS_INT, 512),
    "eval_batch_size": (_POS_INT, 1024),
    "epochs": (_POS_INT, 300),
    "pretrain_epochs": (_POS_INT, 100),
    "save_step": (_POS_INT, 10),
    "state_every_steps": (_POS_INT, 200),
    "eval_step": (_POS_INT, 1),
    "stopping_step": (_NONNEG_INT, 10),
    "MAX_ITEM_LIST_LENGTH": (_POS_INT, 50),
    "hidden_size": (_POS_INT, 300),
    "inner_size": (_POS_INT, 256),
    "n_heads": (_POS_INT, 2),
    "n_exps": (_POS_INT, 8),
    "embedding_size": (_POS_INT, 64),
    "kmeans_iters": (_POS_INT, 20),
    "kmeans_restarts": (_POS_INT, 1),
    "learning_rate": (_POSITIVE, 0.001),
    "club_learning_rate": (_POSITIVE, 0.0001),  # SEA; ~ = learning_rate
    "D_max_width": (_POS_INT, 4096),  # MMSSL; ~ = the released widths
    "temperature": (_POSITIVE, 0.07),
    "layer_norm_eps": (_POSITIVE, 1e-12),
    "weight_decay": (_NONNEG, 0.0),
    "hidden_dropout_prob": (_DROPOUT, 0.5),
    "attn_dropout_prob": (_DROPOUT, 0.5),
    "adaptor_dropout_prob": (_DROPOUT, 0.2),
    "dropout": (_DROPOUT, 0.5),
    "item_drop_ratio": (_PROBABILITY, 0.2),
    "item_drop_coefficient": (_PROBABILITY, 0.9),
    "interest_ratio": (_RATIO, 0.5),
    "kmeans_backend": (_one_of(BACKENDS), "auto"),
    "kmeans_init": (_one_of(INITS), "auto"),
}


def validate_kinds(defaults: Mapping[str, Any], values: Mapping[str, Any], source: str) -> None:
    """Refuse a value of another kind than the key's default in the props: a number where the default is a number
    (``reg_weight=abc`` would otherwise fail deep inside a model, after the data is read), a boolean where it is a
    boolean. Keys whose default is ``~`` or of another kind (lists, strings, dicts), and the keys of :data:`RULES`
    (checked with their ranges by :func:`validate_values`), are not checked here."""
    for key, value in values.items():
        default = defaults.get(key)
        if value is None or default is None or key in RULES:
            continue
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{source}: {key} expects true or false (its default is {default}), found {value!r}. "
                                  f"Fix: {key}={str(default).lower()} or {str(not default).lower()}")
        elif _is_number(default) and not _is_number(value):
            raise ConfigError(f"{source}: {key} expects a number (its default is {default}), found {value!r}. "
                              f"Fix: {key}=<a number such as {default}>")


def validate_values(values: Mapping[str, Any]) -> None:
    """Check the type and range of every key of :data:`RULES` (and ``topk``, ``metrics``) that ``values`` sets
    to something other than ``None``."""
    for key, ((accepts, expected, fix), example) in RULES.items():
        value = values.get(key)
        if value is not None and not accepts(value):
            raise ConfigError(f"{key}: expected {expected}, found {value!r}. Fix: {key}=<{fix.format(example=example)}>")
    topk = values.get("topk")
    if topk is not None and not (_is_int(topk) and topk >= 1) and not (
        isinstance(topk, list) and topk and all(_is_int(k) and k >= 1 for k in topk)
    ):
        raise ConfigError(f"topk: expected a list of integers >= 1, found {topk!r}. Fix: e.g. topk=[10,50]")
    metrics = values.get("metrics")
    if metrics is not None:
        names = metrics if isinstance(metrics, list) else [metrics]
        unknown = [m for m in names if not isinstance(m, str) or m.lower() not in METRICS]
        if unknown:
            raise ConfigError(f"metrics: unknown metric {unknown[0]!r}. Fix: choose from {list(METRICS)}")


def validate_combination(config) -> None:
    """Checks across keys, on the final config: heads divide the hidden size, ``valid_metric`` is computed."""
    heads, hidden = config["n_heads"], config["hidden_size"]
    if _is_int(heads) and _is_int(hidden) and heads >= 1 and hidden % heads:
        divisors = [h for h in range(1, min(hidden, 16) + 1) if hidden % h == 0]
        raise ConfigError(f"n_heads={heads} does not divide hidden_size={hidden} (each head gets hidden_size/n_heads "
                          f"dimensions). Fix: n_heads one of {divisors}, or another hidden_size")
    metric = config["valid_metric"]
    if metric is None:
        return
    name, sep, k = str(metric).partition("@")
    if not sep or not k.isdigit() or not name:
        raise ConfigError(f"valid_metric: expected <metric>@<K> such as NDCG@10, found {metric!r}. "
                          f"Fix: valid_metric=<one of {config['metrics']}>@<one of topk>")
    topk = config["topk"] if isinstance(config["topk"], list) else [config["topk"]]
    metrics = [m.lower() for m in (config["metrics"] or [])]
    if name.lower() not in metrics:
        raise ConfigError(f"valid_metric={metric}: {name} is not in metrics {config['metrics']}, so it is never "
                          f"computed. Fix: add it to metrics, or select on one of them")
    if int(k) not in topk:
        raise ConfigError(f"valid_metric={metric}: @{k} is not in topk {topk}, so it is never computed. "
                          f"Fix: valid_metric={name}@{topk[0]}, or add {k} to topk")


def warn_topk_above_items(topk, n_items: int, logger) -> None:
    """A cutoff at or above the number of items ranks every item: its metrics say nothing. Warn, do not refuse."""
    cutoffs = topk if isinstance(topk, list) else [topk]
    for k in cutoffs:
        if _is_int(k) and k >= n_items:
            logger.warning(f"topk {k} is not below the number of items ({n_items}): @{k} metrics rank (nearly) "
                           f"every item and tell nothing apart. Fix: cutoffs below {n_items}")
