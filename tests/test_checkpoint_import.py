"""Import of the authors' .pth checkpoints: restricted unpickling, key mapping, transfer at the spec's sizes, refusal
of malicious pickles, corrupt files, the converter and ``finetune.py -p <file.pth>``."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import pickletools
import subprocess
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from recbole.utils.enum_type import EvaluatorType, InputType, ModelType
from torch import nn

import missrec
from missrec.checkpoint import load_checkpoint
from missrec.checkpoint_import import InertStub, import_checkpoint, main as convert, safe_torch_load
from missrec.cli.finetune import main as finetune
from missrec.config import build_config
from missrec.errors import CheckpointError
from missrec.models.missrec import MISSRec
from missrec.transfer import count_trainable, load_pretrained

SCIENTIFIC_ITEMS = 4386  # incl. PAD (spec §2.3)

# What the authors' pre-training Config holds (spec §2.5, RecBole 1.0.1 defaults, DDP settings of §1.3)
SPEC_CONFIG = {
    "model": "MISSRec", "dataset": "FHCKM_mm_full", "train_stage": "pretrain", "n_layers": 2, "n_heads": 4,
    "hidden_size": 300, "inner_size": 256, "hidden_dropout_prob": 0.5, "attn_dropout_prob": 0.5, "hidden_act": "gelu",
    "layer_norm_eps": 1e-12, "initializer_range": 0.02, "loss_type": "CE", "item_drop_ratio": 0.2,
    "item_drop_coefficient": 0.9, "lambda": 1e-3, "gamma": 1e-4, "plm_suffix": "feat1CLS", "plm_suffix_aug": "feat2CLS",
    "img_suffix": "feat3CLS", "id_type": "id", "modal_type": "img_text", "plm_size": 512, "img_size": 512,
    "temperature": 0.07, "seq_mm_fusion": "add", "item_mm_fusion": "dynamic_shared", "interest_ratio": 0.02,
    "pretrain_epochs": 100, "save_step": 10, "train_batch_size": 4096, "ckpt_suffix": "gamma1e-4",
    "MAX_ITEM_LIST_LENGTH": 50, "seed": 2020, "learning_rate": 0.001, "topk": [10, 50], "metrics": ["HIT", "NDCG"],
    "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full"}, "neg_sampling": None,
    "gpu_id": "0,1,2,3", "use_gpu": True, "ddp": True, "local_rank": 0, "device": torch.device("cuda", 0),
    "MODEL_TYPE": ModelType.SEQUENTIAL, "MODEL_INPUT_TYPE": InputType.POINTWISE, "eval_type": EvaluatorType.RANKING,
    "valid_metric": "NDCG@10", "valid_metric_bigger": True, "data_path": "dataset/pretrain/FHCKM_mm_full",
}  # fmt: skip


# ---- building files in the authors' format -----------------------------------------------------------------------
def original_state(
    hidden=300, heads=4, inner=256, max_len=50, text=512, image=512, n_items=None, seed=0
) -> OrderedDict:
    """The released pre-training state dict (spec §1.3); with ``n_items``, a fine-tuning one (tables, buffers)."""
    torch.manual_seed(seed)
    trm = nn.Transformer(hidden, heads, 1, 1, inner, 0.5, "gelu", layer_norm_eps=1e-12, batch_first=True)
    state = OrderedDict({"position_embedding.weight": torch.randn(max_len, hidden) * 0.02})
    if n_items:
        state["item_embedding.weight"] = torch.randn(n_items, hidden) * 0.02
    state.update({f"trm_model.{k}": v for k, v in trm.state_dict().items()})
    state["LayerNorm.weight"] = 1 + 0.1 * torch.randn(hidden)
    state["LayerNorm.bias"] = 0.1 * torch.randn(hidden)
    state["fusion_factor"] = torch.tensor(0.37)
    state["text_adaptor.weight"], state["text_adaptor.bias"] = torch.randn(hidden, text) * 0.03, torch.randn(hidden)
    state["img_adaptor.weight"], state["img_adaptor.bias"] = torch.randn(hidden, image) * 0.03, torch.randn(hidden)
    if n_items:
        k = n_items // 2
        state["plm_embedding.weight"] = torch.randn(n_items, text)
        state["img_embedding.weight"] = torch.randn(n_items, image)
        state["plm_interest_lookup_table"] = torch.randint(0, k, (n_items,))
        state["img_interest_lookup_table"] = torch.randint(0, k, (n_items,))
        state["interest_embeddings"] = torch.randn(k + 1, hidden)
    return state


@contextlib.contextmanager
def original_repo_modules():
    """The original repositories' top-level ``config.Config`` (a RecBole Config subclass) and ``missrec.MISSRec``,
    importable only while the file is written: loading must never need them."""
    from recbole.config import Config as RecBoleConfig

    config_module = types.ModuleType("config")
    config_cls = type("Config", (RecBoleConfig,), {"__module__": "config"})
    config_module.Config = config_cls
    model_cls = type("MISSRec", (), {"__module__": "missrec"})
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "config", config_module)
        mp.setattr(missrec, "MISSRec", model_cls, raising=False)
        yield config_cls, model_cls


def write_original(path: Path, state: OrderedDict, final_config: dict, epoch: int = 99, **extra) -> Path:
    """``torch.save({'config', 'epoch', 'state_dict', 'optimizer', ...})`` exactly as the original trainers do."""
    with original_repo_modules() as (config_cls, model_cls):
        cfg = config_cls.__new__(config_cls)  # the attributes RecBole's Config.__init__ sets
        cfg.parameters = {"General": ["gpu_id", "use_gpu", "seed"], "Training": ["train_batch_size", "learning_rate"]}
        cfg.yaml_loader = yaml.FullLoader
        cfg.file_config_dict = {k: final_config[k] for k in ("n_layers", "n_heads", "hidden_size")}
        cfg.variable_config_dict = {"ddp": True, "local_rank": 0}
        cfg.cmd_config_dict = {}
        cfg.external_config_dict = dict(cfg.file_config_dict)
        cfg.model, cfg.model_class, cfg.dataset = final_config["model"], model_cls, final_config["dataset"]
        cfg.internal_config_dict = {"MAX_ITEM_LIST_LENGTH": 50}
        cfg.final_config_dict = final_config
        params = [nn.Parameter(v.clone()) for v in state.values() if v.is_floating_point()]
        optimizer = torch.optim.Adam(params, lr=1e-3)
        for p in params:
            p.grad = torch.full_like(p, 1e-3)
        optimizer.step()
        checkpoint = {"config": cfg, "epoch": epoch, "state_dict": state, "optimizer": optimizer.state_dict()}
        torch.save({**checkpoint, **extra}, path)
    return path


def pickled_globals(path: Path) -> set[str]:
    """Every global the file's pickle names (protocol 2: GLOBAL opcodes)."""
    with zipfile.ZipFile(path) as z:
        data = z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))
    return {arg.replace(" ", ".") for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}


@pytest.fixture(scope="module")
def spec_pth(tmp_path_factory) -> tuple[Path, OrderedDict]:
    state = original_state()
    path = write_original(tmp_path_factory.mktemp("pth") / "MISSRec-FHCKM_mm_full-100.pth", state, SPEC_CONFIG)
    return path, state


class FakeDataset:
    """What RecBole's SequentialRecommender reads, plus modality features."""

    def __init__(self, n_items: int, dims: dict[str, int]) -> None:
        g = torch.Generator().manual_seed(0)
        self.modality_features = {m: torch.randn(n_items, d, generator=g) for m, d in dims.items()}
        self.n_items = n_items

    def num(self, field):
        return self.n_items


def spec_missrec(tiny_data, stage="inductive_ft", n_items=SCIENTIFIC_ITEMS, dims=None, **overrides) -> MISSRec:
    cfg = build_config(MISSRec, "tiny", overrides={"data_path": str(tiny_data), "device": "cpu", "train_stage": stage,
                                                   **overrides})
    return MISSRec(cfg, FakeDataset(n_items, dims or {"text": 512, "image": 512}))


# ---- reading -----------------------------------------------------------------------------------------------------
def test_the_file_references_what_a_pickled_recbole_config_references(spec_pth):
    assert pickled_globals(spec_pth[0]) == {
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.FloatStorage", "config.Config",
        "missrec.MISSRec", "yaml.loader.FullLoader", "torch.device", "recbole.utils.enum_type.ModelType",
        "recbole.utils.enum_type.InputType", "recbole.utils.enum_type.EvaluatorType",
    }


def test_config_classes_become_inert_stubs_and_nothing_is_imported(spec_pth):
    raw = safe_torch_load(spec_pth[0])
    cfg = raw["config"]
    assert isinstance(cfg, InertStub) and cfg.pickled_name == "config.Config" and "config" not in sys.modules
    assert cfg.state["model_class"].pickled_name == "missrec.MISSRec" and not hasattr(missrec, "MISSRec")
    assert cfg.state["yaml_loader"].pickled_name == "yaml.loader.FullLoader"
    final = cfg.state["final_config_dict"]
    assert final["device"].pickled_name == "torch.device" and final["device"].args == ("cuda", 0)
    assert final["MODEL_TYPE"].pickled_name == "recbole.utils.enum_type.ModelType" and final["MODEL_TYPE"].args == (2,)
    assert final["hidden_size"] == 300 and final["modal_type"] == "img_text"
    assert raw["epoch"] == 99
    assert len(raw["optimizer"]["state"]) == sum(v.is_floating_point() for v in spec_pth[1].values())


def test_import_maps_every_key_and_keeps_every_value(spec_pth):
    path, original = spec_pth
    state, meta = import_checkpoint(path)
    expected = {"text_adaptor.weight": "adaptors.text.weight", "text_adaptor.bias": "adaptors.text.bias",
                "img_adaptor.weight": "adaptors.image.weight", "img_adaptor.bias": "adaptors.image.bias",
                "fusion_factor": "fusion.fusion_factor"}
    assert meta["renamed"] == expected and meta["dropped"] == {}
    # position 1 + trm_model 34 (encoder layer 12 + norm 2, decoder layer 18 + norm 2) + LN 2 + fusion 1 + adaptors 4
    assert len(state) == len(original) == 42 and sum(k.startswith("trm_model.") for k in state) == 34
    for key, value in original.items():
        assert torch.equal(state[expected.get(key, key)], value)
    assert state["fusion.fusion_factor"].shape == ()
    assert meta["model"] == "MISSRec" and meta["epoch"] == 99
    read = {"hidden_size": 300, "plm_size": 512, "img_size": 512, "modal_type": "img_text", "n_heads": 4,
            "device": "cuda:0"}
    assert {k: meta["config"][k] for k in read} == read
    assert meta["source"]["entries"] == ["config", "epoch", "optimizer", "state_dict"]
    json.dumps(meta)  # the metadata is JSON as it is


def test_finetuning_checkpoint_drops_tables_buffers_and_legacy_moe(tmp_path):
    state = original_state(hidden=8, heads=2, inner=8, text=6, image=5, n_items=30)
    state["moe_adaptor.w_gate"] = torch.zeros(6, 8)
    path = write_original(tmp_path / "ft.pth", state, {**SPEC_CONFIG, "train_stage": "transductive_ft"}, epoch=74,
                          best_valid_score=np.float64(0.0742), cur_step=3, other_parameter=None)
    mapped, meta = import_checkpoint(path)
    assert sorted(meta["dropped"]) == ["img_embedding.weight", "img_interest_lookup_table", "interest_embeddings",
                                       "moe_adaptor.w_gate", "plm_embedding.weight", "plm_interest_lookup_table"]
    assert "spec §2.2" in meta["dropped"]["moe_adaptor.w_gate"]
    assert "rebuilt" in meta["dropped"]["plm_embedding.weight"]
    assert torch.equal(mapped["item_embedding.weight"], state["item_embedding.weight"])
    assert meta["epoch"] == 74 and meta["source"]["best_valid_score"] == 0.0742  # a numpy float64, decoded


# ---- loading into MISSRec at the spec's sizes (§2.3) --------------------------------------------------------------
@pytest.mark.parametrize("stage,new,trainable", [
    ("inductive_ft", ["interest_embeddings", "interest_lookup"], 308_401),
    ("transductive_ft", ["interest_embeddings", "interest_lookup", "item_embedding.weight"],
     308_401 + SCIENTIFIC_ITEMS * 300),
])  # fmt: skip
def test_released_pretraining_checkpoint_into_missrec_at_spec_sizes(tiny_data, spec_pth, stage, new, trainable):
    path, original = spec_pth
    model = spec_missrec(tiny_data, stage)
    report = load_pretrained(model, path, fix_enc=True)
    assert report["missing"] == [] and report["unexpected"] == [] and report["shape_mismatch"] == []
    assert report["new_by_design"] == new and report["dropped"] == {}
    assert len(report["loaded"]) == 42 and count_trainable(model) == trainable
    encoder = [k for k in original if k.startswith("trm_model.")]
    assert sorted(report["frozen"]) == sorted(["position_embedding.weight", *encoder])
    assert torch.equal(model.adaptors["image"].weight, original["img_adaptor.weight"])
    assert model.fusion.fusion_factor.item() == pytest.approx(0.37)
    assert torch.equal(model.trm_model.decoder.norm.bias, original["trm_model.decoder.norm.bias"])


def test_a_300d_checkpoint_into_a_64d_model_names_the_settings(tiny_data, spec_pth):
    model = spec_missrec(tiny_data, hidden_size=64, inner_size=128, n_heads=2, MAX_ITEM_LIST_LENGTH=20,
                         dims={"text": 384, "image": 512})
    with pytest.raises(CheckpointError) as err:
        load_pretrained(model, spec_pth[0])
    msg = str(err.value)
    assert "position_embedding.weight: checkpoint (50, 300) vs model (20, 64)" in msg
    assert ("Fix: set hidden_size=300 MAX_ITEM_LIST_LENGTH=50 inner_size=256 n_heads=4 "
            "and use 512-d features for text, image") in msg
    assert all(p.requires_grad for p in model.parameters())  # nothing was loaded or frozen


def test_different_attention_heads_are_an_error_not_a_silent_load(tiny_data, spec_pth):
    with pytest.raises(CheckpointError, match=r"attention heads: checkpoint 4 vs model 2.*n_heads=4"):
        load_pretrained(spec_missrec(tiny_data, n_heads=2), spec_pth[0])


# ---- refusing code -----------------------------------------------------------------------------------------------
class Payload:
    """An object whose unpickling calls ``func(*args)``."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def payloads(marker: Path) -> dict[str, Payload]:
    return {
        "posix.system": Payload(os.system, (f"touch {marker}",)),
        "builtins.exec": Payload(exec, (f"open({str(marker)!r}, 'w').close()",)),
        "builtins.eval": Payload(eval, (f"__import__('os').system('touch {marker}')",)),
        "subprocess.Popen": Payload(subprocess.Popen, (["touch", str(marker)],)),
    }


@pytest.mark.parametrize("name", ["posix.system", "builtins.exec", "builtins.eval", "subprocess.Popen"])
def test_malicious_pickles_are_refused_before_anything_runs(tmp_path, name):
    marker = tmp_path / "pwned"
    payload = payloads(marker)[name]
    pickle.loads(pickle.dumps(payload))  # control: a plain unpickler runs it
    for _ in range(50):  # Popen returns before touch has finished
        if marker.exists():
            break
        __import__("time").sleep(0.02)
    assert marker.exists()
    marker.unlink()
    path = tmp_path / "evil.pth"
    torch.save({"config": payload, "epoch": 1, "state_dict": original_state(8, 2, 8, 4, 3, 3)}, path)
    with pytest.raises(CheckpointError, match=rf"evil\.pth: refused to load: the pickle names the global '{name}'"):
        import_checkpoint(path)
    __import__("time").sleep(0.1)
    assert not marker.exists()


def test_the_pre_zip_torch_format_is_read_and_guarded_the_same_way(tmp_path):
    state = original_state(8, 2, 8, 4, 3, 3)
    torch.save({"config": None, "epoch": 7, "state_dict": state}, tmp_path / "old.pth",
               _use_new_zipfile_serialization=False)
    mapped, meta = import_checkpoint(tmp_path / "old.pth")
    assert meta["epoch"] == 7 and torch.equal(mapped["adaptors.image.bias"], state["img_adaptor.bias"])
    marker = tmp_path / "pwned"
    torch.save({"config": payloads(marker)["posix.system"], "state_dict": state}, tmp_path / "evil.pth",
               _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match="the global 'posix.system'"):
        import_checkpoint(tmp_path / "evil.pth")
    assert not marker.exists()


def test_a_getattr_chain_is_refused(tmp_path):
    """``getattr(__import__('os'), 'system')('touch m')`` hand-written, as no object pickles to it."""
    marker = tmp_path / "pwned"
    program = f"cbuiltins\ngetattr\n(cbuiltins\n__import__\n(Vos\ntRVsystem\ntR(Vtouch {marker}\ntR.".encode()
    pickle.loads(program)  # control
    assert marker.exists()
    marker.unlink()
    path = tmp_path / "evil.pth"
    torch.save({"epoch": 1}, path)
    with zipfile.ZipFile(path) as z:
        records = {n: z.read(n) for n in z.namelist()}
    with zipfile.ZipFile(path, "w") as z:
        for n, data in records.items():
            z.writestr(n, program if n.endswith("data.pkl") else data)
    with pytest.raises(CheckpointError, match="the global 'builtins.getattr'"):
        safe_torch_load(path)
    assert not marker.exists()


def test_names_inside_the_stubbed_namespaces_stay_inert(tmp_path):
    marker = tmp_path / "pwned"
    payload = Payload(yaml.unsafe_load, (f"!!python/object/apply:os.system ['touch {marker}']",))
    path = tmp_path / "inert.pth"
    torch.save({"config": payload, "epoch": 1, "state_dict": original_state(8, 2, 8, 4, 3, 3)}, path)
    state, meta = import_checkpoint(path)
    assert not marker.exists() and len(state) == 42
    assert safe_torch_load(path)["config"].pickled_name == "yaml.unsafe_load"


# ---- broken files ------------------------------------------------------------------------------------------------
def test_truncated_corrupt_and_foreign_files_are_one_clear_error(tmp_path, spec_pth):
    blob = spec_pth[0].read_bytes()
    (tmp_path / "truncated.pth").write_bytes(blob[: len(blob) // 2])
    (tmp_path / "garbage.pth").write_bytes(b"\x00 not a checkpoint " * 100)
    for name in ("truncated.pth", "garbage.pth"):
        readable = rf"{name}: not a readable PyTorch checkpoint \(.+\)\. Fix: re-download"
        with pytest.raises(CheckpointError, match=readable):
            import_checkpoint(tmp_path / name)
    torch.save([torch.zeros(2)], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match=r"expected the authors' format .* found list"):
        import_checkpoint(tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        import_checkpoint(tmp_path / "absent.pth")


# ---- converter and CLI -------------------------------------------------------------------------------------------
def test_converter_writes_our_checkpoint(tiny_data, spec_pth, tmp_path, capsys):
    assert convert([str(spec_pth[0]), str(tmp_path / "missrec-fhckm")]) == 0
    assert "42 tensors of a MISSRec checkpoint (epoch 99)" in capsys.readouterr().out
    state, meta = load_checkpoint(tmp_path / "missrec-fhckm")
    imported, _ = import_checkpoint(spec_pth[0])
    assert state.keys() == imported.keys() and all(torch.equal(state[k], imported[k]) for k in state)
    assert meta["model"] == "MISSRec" and meta["config"]["hidden_size"] == 300 and meta["format_version"] == 1
    model = spec_missrec(tiny_data)
    report = load_pretrained(model, tmp_path / "missrec-fhckm.safetensors")
    assert report["missing"] == [] and report["unexpected"] == [] and count_trainable(model) == 308_401
    assert convert([str(tmp_path / "absent.pth"), str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.startswith("error: ") and not (tmp_path / "x.safetensors").exists()


def test_finetune_cli_takes_an_authors_pth(tiny_data, in_tmp_cwd):
    """``finetune.py -p <file.pth>`` on the tiny dataset: a fine-tuning .pth from another item set, at tiny sizes."""
    state = original_state(hidden=16, heads=2, inner=16, text=16, image=8, n_items=77)
    pth = write_original(in_tmp_cwd / "MISSRec-tiny.pth", state, {**SPEC_CONFIG, "hidden_size": 16, "n_heads": 2})
    out = in_tmp_cwd / "run"
    code = finetune(["-d", "tiny", "-mode", "transductive", "-p", str(pth), "--epochs", "1", "--output", str(out),
                     f"data_path={tiny_data}", "hidden_size=16", "inner_size=16", "n_heads=2", "show_progress=false",
                     "device=cpu", "kmeans_iters=2", "train_batch_size=64"])
    assert code == 0
    transfer = json.loads((out / "results.json").read_text())
    t = transfer["transfer"]
    assert t["missing"] == [] and t["unexpected"] == []
    assert t["new_by_design"] == ["interest_embeddings", "interest_lookup", "item_embedding.weight"]
    assert len(t["dropped"]) == 5 and any(k.startswith("trm_model.decoder") for k in t["frozen"])
    # LN (2*16) + adaptors (16*16+16 + 8*16+16) + fusion 1 + ID table 49*16
    assert transfer["trainable_parameters"] == 32 + 272 + 144 + 1 + 49 * 16
