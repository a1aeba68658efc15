"""Pre-trained checkpoints: another model's weights, lying or broken cards, corrupt or hostile files."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import torch

from tests.reliability.commands import finetune, import_checkpoint, on_read_only, read_json
from tests.reliability.harness import Case, Ctx
from tests.reliability.world import with_tiny

CKPT = "{dir}/ckpt/model.safetensors"


def checkpoint(model: str, card: str = "keep", weights=None):
    """A builder: the tiny benchmark plus ``ckpt/model.safetensors`` from the shared ``model`` checkpoint.

    ``card``: ``keep`` (its JSON card), ``none``, ``model=<name>`` (the card claims another model),
    ``invalid`` (not JSON), ``sha-wrong``/``sha-right`` (a JSON card with that sha256), ``md-wrong`` (a markdown
    model card with a wrong sha256 row). ``weights(state)`` may change the tensors first.
    """

    def build(case_dir: Path, world) -> Ctx:
        from safetensors.torch import load_file, save_file

        ctx = with_tiny(case_dir, world)
        src = world.checkpoint(model)
        folder = case_dir / "ckpt"
        folder.mkdir()
        weights_path, card_path = folder / "model.safetensors", folder / "model.json"
        if weights is None:
            shutil.copy2(src.with_suffix(".safetensors"), weights_path)
        else:
            state = load_file(str(src.with_suffix(".safetensors")))
            weights(state)
            save_file(state, str(weights_path))
        meta = json.loads(src.with_suffix(".json").read_text())
        if weights is not None:
            meta.pop("sha256", None)  # the card of the changed file
        digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
        if card == "keep":
            card_path.write_text(json.dumps(meta))
        elif card.startswith("model="):
            card_path.write_text(json.dumps({**meta, "model": card.split("=", 1)[1]}))
        elif card == "invalid":
            card_path.write_text('{"model": "MISSRec", "epoch": ')
        elif card in ("sha-wrong", "sha-right"):
            card_path.write_text(json.dumps({**meta, "sha256": digest if card == "sha-right" else "0" * 64}))
        elif card == "md-wrong":
            card_path.write_text(json.dumps(meta))
            (folder / "model.md").write_text(f"| file | model.safetensors |\n| sha256 (safetensors) | `{'1' * 64}` |\n")
        return ctx

    return build


def _set_weight(key_part: str, value: float):
    def change(state: dict) -> None:
        key = next(k for k in sorted(state) if key_part in k and state[k].is_floating_point())
        state[key].view(-1)[0] = value

    return change


def _pth(payload: str):
    """A builder: the tiny benchmark plus ``ckpt/model.pth`` of the given kind."""

    def build(case_dir: Path, world) -> Ctx:
        ctx = with_tiny(case_dir, world)
        folder = case_dir / "ckpt"
        folder.mkdir()
        path = folder / "model.pth"
        marker = str(case_dir / "cwd" / "pwned")
        hostile = {
            "os-system": (os.system, (f"touch {marker}",)),
            "eval": (eval, (f"open({marker!r}, 'w')",)),
            "subprocess": (subprocess.Popen, (["touch", marker],)),
        }
        if payload in hostile:
            class Hostile:
                def __reduce__(self):
                    return hostile[payload]

            torch.save({"config": None, "epoch": 1, "state_dict": {"w": torch.ones(1)}, "x": Hostile()}, path)
        elif payload == "truncated":
            torch.save({"config": None, "epoch": 1, "state_dict": {"w": torch.ones(64)}}, path)
            path.write_bytes(path.read_bytes()[:200])
        elif payload == "tensor":
            torch.save(torch.zeros(3), path)
        elif payload == "valid":
            torch.save({"config": None, "epoch": 1, "state_dict": {"LayerNorm.weight": torch.ones(4)}}, path)
        return ctx

    return build


def _transfer(expect_frozen: bool = True):
    def check(ctx: Ctx, printed: str) -> None:
        results = read_json(ctx.dir / "out" / "results.json")
        transfer = results["transfer"]
        assert transfer and not transfer["missing"] and not transfer["unexpected"], transfer
        assert bool(transfer["frozen"]) == expect_frozen, transfer["frozen"]

    return check


P = ("-p", CKPT)
FOREIGN = "lacks"  # the refusal of a checkpoint whose encoder tensors are not there

CASES = [
    # ---- another model's weights: decided from the tensors, not the card ---------------------------------------------
    Case("ckpt-unisrec-into-missrec", "checkpoint", checkpoint("UniSRec"), finetune(*P), FOREIGN, untouched=("ckpt",)),
    Case("ckpt-unisrec-no-card", "checkpoint", checkpoint("UniSRec", "none"), finetune(*P), FOREIGN, absent=("out/results.json",),
         note="a UniSRec checkpoint without a card transfers 3 of 42 tensors and freezes a random transformer"),
    Case("ckpt-unisrec-card-says-missrec", "checkpoint", checkpoint("UniSRec", "model=MISSRec"), finetune(*P), FOREIGN,
         absent=("out/results.json",), note="a mislabelled card"),
    Case("ckpt-unisrec-no-card-fix-enc-off", "checkpoint", checkpoint("UniSRec", "none"), finetune(*P, fix_enc="false"),
         FOREIGN, absent=("out/results.json",)),
    Case("ckpt-missrec-into-sasrec-no-card", "checkpoint", checkpoint("MISSRec", "none"),
         finetune(*P, "--model", "SASRec"), FOREIGN, absent=("out/results.json",)),
    Case("ckpt-missrec-card-says-unisrec", "checkpoint", checkpoint("MISSRec", "model=UniSRec"), finetune(*P),
         "its card says UniSRec", kind="warn", check=_transfer(),
         note="a MISSRec checkpoint with a UniSRec card is refused with a false claim"),
    Case("ckpt-missrec-no-card", "checkpoint", checkpoint("MISSRec", "none"), finetune(*P), kind="ok", check=_transfer()),
    Case("ckpt-missrec", "checkpoint", checkpoint("MISSRec"), finetune(*P), kind="ok", check=_transfer()),
    Case("ckpt-missrec-fix-enc-off", "checkpoint", checkpoint("MISSRec"), finetune(*P, fix_enc="false"), kind="ok",
         check=_transfer(expect_frozen=False)),
    Case("ckpt-unisrec-into-unisrec", "checkpoint", checkpoint("UniSRec", "none"), finetune(*P, "--model", "UniSRec"),
         kind="ok", check=_transfer()),
    Case("ckpt-shape-mismatch", "checkpoint", checkpoint("MISSRec"), finetune(*P, hidden_size=32, inner_size=32),
         "does not fit the model"),
    # ---- the card --------------------------------------------------------------------------------------------------
    Case("ckpt-card-invalid-json", "checkpoint", checkpoint("MISSRec", "invalid"), finetune(*P),
         "model.json: expected a JSON model card", note="invalid card JSON"),
    Case("ckpt-card-sha256-wrong", "checkpoint", checkpoint("MISSRec", "sha-wrong"), finetune(*P),
         "model.safetensors: expected sha256 00000000", note="the card's sha256 is never checked"),
    Case("ckpt-card-sha256-right", "checkpoint", checkpoint("MISSRec", "sha-right"), finetune(*P), kind="ok",
         check=_transfer()),
    Case("ckpt-model-card-sha256-wrong", "checkpoint", checkpoint("MISSRec", "md-wrong"), finetune(*P),
         "model.safetensors: expected sha256 11111111"),
    # ---- broken or hostile files -------------------------------------------------------------------------------------
    Case("ckpt-missing", "checkpoint", with_tiny, finetune(*P), "no such checkpoint"),
    Case("ckpt-folder", "checkpoint", lambda d, w: _mkdir(with_tiny(d, w), "ckpt/model"), finetune("-p", "{dir}/ckpt/model"),
         "no such checkpoint"),
    Case("ckpt-truncated", "checkpoint", lambda d, w: _truncate(checkpoint("MISSRec", "none")(d, w)), finetune(*P),
         "not a readable safetensors file"),
    Case("ckpt-weights-extreme", "checkpoint", checkpoint("MISSRec", weights=_set_weight("adaptors.text", 3e38)),
         finetune(*P), "expected weights of magnitude", note="faiss aborts on extreme weights"),
    Case("ckpt-weights-nan", "checkpoint", checkpoint("MISSRec", weights=_set_weight("LayerNorm", float("nan"))),
         finetune(*P), "expected finite weights"),
    Case("ckpt-pth-os-system", "checkpoint", _pth("os-system"), finetune("-p", "{dir}/ckpt/model.pth"),
         "refused to load", absent=("cwd/pwned",)),
    Case("ckpt-pth-eval", "checkpoint", _pth("eval"), finetune("-p", "{dir}/ckpt/model.pth"), "refused to load",
         absent=("cwd/pwned",)),
    Case("ckpt-pth-subprocess", "checkpoint", _pth("subprocess"), finetune("-p", "{dir}/ckpt/model.pth"),
         "refused to load", absent=("cwd/pwned",)),
    Case("ckpt-pth-truncated", "checkpoint", _pth("truncated"), finetune("-p", "{dir}/ckpt/model.pth"),
         "not a readable PyTorch checkpoint"),
    Case("ckpt-pth-bare-tensor", "checkpoint", _pth("tensor"), finetune("-p", "{dir}/ckpt/model.pth"),
         "expected the authors' format"),
    Case("ckpt-import-hostile", "checkpoint", _pth("os-system"), import_checkpoint("{dir}/ckpt/model.pth", "{dir}/conv"),
         "refused to load", absent=("cwd/pwned", "conv.*")),
    Case("ckpt-import-read-only", "checkpoint", _pth("valid"),
         on_read_only("ro", import_checkpoint("{dir}/ckpt/model.pth", "{dir}/ro/conv")), "Read-only file system",
         absent=("ro/*",)),
]


def _mkdir(ctx: Ctx, rel: str) -> Ctx:
    (ctx.dir / rel).mkdir(parents=True)
    return ctx


def _truncate(ctx: Ctx) -> Ctx:
    path = ctx.dir / "ckpt" / "model.safetensors"
    path.write_bytes(path.read_bytes()[:1000])
    return ctx
