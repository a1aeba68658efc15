"""Configuration values: refused before any data is read, with the key and the fix in one line. The run folder
is created only after the values pass and before the data is read, so ``absent=("out",)`` shows the order."""

from __future__ import annotations

from tests.reliability.commands import finetune, graph, pretrain
from tests.reliability.harness import Case
from tests.reliability.world import with_corpus, with_graph, with_tiny

INT1 = "expected an integer >= 1"
UNIT = "expected a number in [0, 1)"


def _value(case_id: str, override: str, expect: str, note: str = "", **kw) -> Case:
    key, _, value = override.partition("=")
    return Case(case_id, "config", with_tiny, finetune(**{key: value}, **kw), expect, absent=("out",), note=note)


CASES = [
    # ---- unknown keys and unparsable overrides (already one line) -------------------------------------------------
    Case("config-unknown-key", "config", with_tiny, finetune(hiden_size=8), "unknown config key 'hiden_size'"),
    Case("config-override-without-equals", "config", with_tiny, finetune("learning_rate"), "expected key=value"),
    Case("config-override-bad-yaml", "config", with_tiny, finetune(topk="[10,"), "not valid YAML"),
    Case("config-device-cuda-absent", "config", with_tiny, finetune(device="cuda"), "CUDA is not available"),
    Case("config-unknown-model", "config", with_tiny, finetune("--model", "MISREC"), "invalid choice"),
    Case("config-unknown-mode", "config", with_tiny, finetune("-mode", "semi"), "invalid choice"),
    Case("config-sasrec-inductive", "config", with_tiny, finetune("--model", "SASRec", "-mode", "inductive"),
         "SASRec has no inductive mode"),
    # ---- types and ranges --------------------------------------------------------------------------------------------
    _value("config-batch-abc", "train_batch_size=abc", f"train_batch_size: {INT1}", "train_batch_size=abc"),
    _value("config-batch-zero", "train_batch_size=0", f"train_batch_size: {INT1}", "batch size 0"),
    _value("config-batch-negative", "train_batch_size=-4", f"train_batch_size: {INT1}"),
    _value("config-batch-float", "train_batch_size=1.5", f"train_batch_size: {INT1}"),
    _value("config-batch-bool", "train_batch_size=true", f"train_batch_size: {INT1}"),
    _value("config-eval-batch-zero", "eval_batch_size=0", f"eval_batch_size: {INT1}", "batch sizes >= 1"),
    _value("config-heads-3", "n_heads=3", "n_heads=3 does not divide hidden_size=16", "n_heads=3"),
    _value("config-heads-zero", "n_heads=0", f"n_heads: {INT1}"),
    _value("config-hidden-zero", "hidden_size=0", f"hidden_size: {INT1}"),
    _value("config-hidden-dropout-1.5", "hidden_dropout_prob=1.5", f"hidden_dropout_prob: {UNIT}",
           "hidden_dropout_prob=1.5"),
    _value("config-hidden-dropout-1", "hidden_dropout_prob=1", f"hidden_dropout_prob: {UNIT}"),
    _value("config-attn-dropout-negative", "attn_dropout_prob=-0.1", f"attn_dropout_prob: {UNIT}"),
    _value("config-max-len-zero", "MAX_ITEM_LIST_LENGTH=0", f"MAX_ITEM_LIST_LENGTH: {INT1}", "MAX_ITEM_LIST_LENGTH=0"),
    _value("config-interest-ratio-zero", "interest_ratio=0", "interest_ratio: expected a number in (0, 1]",
           "interest_ratio > 0"),
    _value("config-interest-ratio-negative", "interest_ratio=-0.5", "interest_ratio: expected a number in (0, 1]"),
    _value("config-learning-rate-abc", "learning_rate=abc", "learning_rate: expected a number > 0"),
    _value("config-learning-rate-zero", "learning_rate=0", "learning_rate: expected a number > 0"),
    _value("config-temperature-zero", "temperature=0", "temperature: expected a number > 0"),
    _value("config-weight-decay-negative", "weight_decay=-1", "weight_decay: expected a number >= 0"),
    _value("config-stopping-step-negative", "stopping_step=-1", "stopping_step: expected an integer >= 0"),
    _value("config-eval-step-zero", "eval_step=0", f"eval_step: {INT1}"),
    _value("config-kmeans-backend", "kmeans_backend=sklearn", "kmeans_backend: expected one of"),
    _value("config-item-drop-ratio", "item_drop_ratio=1.5", "item_drop_ratio: expected a number in [0, 1]"),
    _value("config-topk-zero", "topk=[0]", "topk: expected a list of integers >= 1"),
    _value("config-topk-abc", "topk=abc", "topk: expected a list of integers >= 1"),
    _value("config-metric-unknown", "metrics=[Hit,Foo]", "unknown metric 'Foo'"),
    _value("config-valid-metric-cutoff", "valid_metric=NDCG@20", "@20 is not in topk [5, 10]",
           "valid_metric=NDCG@5 with topk [10, 50]"),
    _value("config-valid-metric-name", "valid_metric=MRR@10", "MRR is not in metrics"),
    _value("config-valid-metric-format", "valid_metric=ndcg", "expected <metric>@<K>"),
    # ---- epochs ------------------------------------------------------------------------------------------------------
    Case("config-epochs-flag-zero", "config", with_tiny, finetune(epochs=0), f"epochs: {INT1}", absent=("out",),
         note="--epochs 0 refused only after data and model are built"),
    Case("config-epochs-flag-negative", "config", with_tiny, finetune(epochs=-1), f"epochs: {INT1}", absent=("out",)),
    Case("config-epochs-override-abc", "config", with_tiny, finetune("epochs=abc", epochs=None), f"epochs: {INT1}",
         absent=("out",)),
    Case("config-graph-epochs-zero", "config", with_graph, graph(epochs=0), f"epochs: {INT1}", absent=("out",)),
    Case("config-graph-batch-zero", "config", with_graph, graph(train_batch_size=0), f"train_batch_size: {INT1}",
         absent=("out",)),
    Case("config-graph-valid-metric", "config", with_graph, graph(valid_metric="Recall@50"), "@50 is not in topk",
         absent=("out",)),
    Case("config-pretrain-save-step-zero", "config", with_corpus, pretrain(save_step=0), f"save_step: {INT1}",
         absent=("run",), note="save_step=0: ZeroDivisionError after a pre-training epoch"),
    Case("config-pretrain-epochs-override", "config", with_corpus, pretrain("epochs=3", epochs=None, pretrain_epochs=1),
         "pre-training reads pretrain_epochs", absent=("run",),
         note="an epochs=3 override is ignored silently by pre-training"),
    Case("config-pretrain-epochs-flag-zero", "config", with_corpus, pretrain(epochs=0), f"pretrain_epochs: {INT1}",
         absent=("run",)),
    Case("config-pretrain-state-every-abc", "config", with_corpus, pretrain(state_every_steps="abc"),
         f"state_every_steps: {INT1}", absent=("run",)),
    Case("config-pretrain-interest-ratio", "config", with_corpus, pretrain(interest_ratio=0),
         "interest_ratio: expected a number in (0, 1]", absent=("run",)),
    Case("config-pretrain-no-objective", "config", with_corpus, pretrain("--model", "SASRec"),
         "SASRec has no pre-training objective"),
    # ---- after the data: a model's own refusal, and a warning --------------------------------------------------------
    Case("config-missrec-odd-layers", "config", with_tiny, finetune(n_layers=3), "n_layers=3 must be even",
         absent=("out/checkpoints",)),
    Case("config-topk-above-items", "config", with_tiny, finetune(topk="[5,10,60]"),
         "topk 60 is not below the number of items (48)", kind="warn", note="topk <= number of items (warn)"),
]
