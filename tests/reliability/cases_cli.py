"""Command lines as users write them, dataset names that try to leave their folder, and Ctrl-C."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.commands import finetune, graph, interrupted, pretrain, read_json, script
from tests.reliability.harness import Case, Ctx
from tests.reliability.world import with_tiny


def _props(case_dir: Path, world) -> Ctx:
    ctx = with_tiny(case_dir, world)
    (case_dir / "a.yaml").write_text("stopping_step: 7  # (int) patience\n")
    (case_dir / "b.yaml").write_text("weight_decay: 0.001  # (float) L2\n")
    return ctx


def _config_has(**expected):
    def check(ctx: Ctx, printed: str) -> None:
        config = read_json(ctx.dir / "out" / "config.json")
        for key, value in expected.items():
            assert config.get(key) == value, f"{key}: {config.get(key)!r} != {value!r}"

    return check


def _escape_target(case_dir: Path, world) -> Ctx:
    """Files ``x.*`` outside the data path ``data/a/b``, where ``-d ../../x`` makes the loader look."""
    ctx = with_tiny(case_dir, world)
    for f in (case_dir / "data" / "tiny").iterdir():
        (case_dir / f.name.replace("tiny.", "x.", 1)).write_bytes(f.read_bytes())
    ctx.data = case_dir / "data" / "a" / "b"
    ctx.data.mkdir(parents=True)
    (case_dir / "data" / "x").mkdir()  # <data_path>/../../x/ exists, so the path resolves outside
    return ctx


ESCAPED = ("cwd/runs", "cwd/X", "cwd/x-*", "X", "x-*")  # where a run named after '../../x' lands


CASES = [
    # ---- key=value overrides and --props, as users write them -------------------------------------------------------
    Case("cli-props-then-override", "cli", _props, finetune("--props", "{dir}/a.yaml", "learning_rate=0.1"),
         kind="ok", check=_config_has(stopping_step=7, learning_rate=0.1), note="--props a.yaml lr=0.1"),
    Case("cli-overrides-around-options", "cli", _props,
         finetune("learning_rate=0.1", "--mode", "transductive", "weight_decay=0.01"),
         kind="ok", check=_config_has(learning_rate=0.1, weight_decay=0.01, train_stage="transductive_ft"),
         note="-d X k=v --epochs 2 k2=v2"),
    Case("cli-overrides-around-epochs", "cli", _props, finetune("stopping_step=3", "--epochs", "1", "weight_decay=0.01", epochs=None),
         kind="ok", check=_config_has(stopping_step=3, weight_decay=0.01, epochs=1)),
    Case("cli-props-two-files", "cli", _props, finetune("--props", "{dir}/a.yaml", "{dir}/b.yaml"), kind="ok",
         check=_config_has(stopping_step=7, weight_decay=0.001)),
    Case("cli-props-flag-twice", "cli", _props, finetune("--props", "{dir}/a.yaml", "--props", "{dir}/b.yaml"),
         kind="ok", check=_config_has(stopping_step=7, weight_decay=0.001)),
    Case("cli-scientific-notation", "cli", with_tiny, finetune("learning_rate=1e-3"), kind="ok",
         check=_config_has(learning_rate=0.001), note="1e-3 is YAML 1.1's string, a number to every user"),
    Case("cli-props-missing-file", "cli", _props, finetune("--props", "{dir}/nope.yaml"), "no such props file"),
    Case("cli-script-exit-status", "cli", with_tiny, script("finetune.py", "-d", "tiny", train_batch_size=0),
         "train_batch_size: expected an integer >= 1", absent=("cwd/runs",)),
    Case("cli-ctrl-c-finetune", "cli", with_tiny,
         interrupted("missrec.trainers.finetune:FinetuneTrainer._train_epoch", finetune()), "interrupted",
         rc=130),
    # ---- dataset names are plain names -------------------------------------------------------------------------------
    Case("cli-name-escape-finetune", "cli", _escape_target, finetune(dataset="../../x", out=None), "plain name",
         absent=ESCAPED, note="finetune.py -d ../../x reads and writes outside"),
    Case("cli-name-escape-graph", "cli", _escape_target, graph(dataset="../../x", out=None), "plain name",
         absent=ESCAPED),
    Case("cli-name-escape-pretrain", "cli", _escape_target, pretrain(dataset="../../X", out=None), "plain name",
         absent=ESCAPED, note="ddp_pretrain.py -d ../../X creates folders outside"),
    Case("cli-name-absolute", "cli", with_tiny, finetune(dataset="/tmp/tiny"), "plain name", absent=("out",)),
    Case("cli-name-subfolder", "cli", with_tiny, finetune(dataset="tiny/tiny"), "plain name", absent=("out",)),
    Case("cli-name-dotdot", "cli", with_tiny, finetune(dataset=".."), "plain name", absent=("out",)),
    Case("cli-name-empty", "cli", with_tiny, finetune(dataset=""), "plain name", absent=("out",)),
    Case("cli-name-missing", "cli", with_tiny, finetune(dataset="tinny"), "expected a benchmark split file"),
]
