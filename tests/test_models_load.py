"""Loading: the bundled model in 4-bit NF4 on the CPU, the remote-code guard, the bitsandbytes fallback message."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from engine.errors import Hint
from engine.models import ModelError, load_model, remote_code_files
from engine.models import load as load_mod
from tui.commands.flags import worded

CONFIG_CODE = """
from transformers import LlamaConfig

class TinyCustomConfig(LlamaConfig):
    model_type = "tiny-custom"
"""
MODELING_CODE = """
import os
from pathlib import Path

from transformers import LlamaForCausalLM

from .configuration_tiny import TinyCustomConfig

Path(os.environ["FINETUI_TEST_MARKER"]).write_text("imported")


class TinyCustomForCausalLM(LlamaForCausalLM):
    config_class = TinyCustomConfig
"""


@pytest.fixture
def custom_code_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny Llama whose config.json points (auto_map) at code files in its folder; importing them leaves a marker."""
    from tests.tiny_model import make_model

    folder = make_model(tmp_path / "custom")
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "tiny-custom"
    config["architectures"] = ["TinyCustomForCausalLM"]
    config["auto_map"] = {
        "AutoConfig": "configuration_tiny.TinyCustomConfig",
        "AutoModelForCausalLM": "modeling_tiny.TinyCustomForCausalLM",
    }
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "configuration_tiny.py").write_text(CONFIG_CODE)
    (folder / "modeling_tiny.py").write_text(MODELING_CODE)
    marker = tmp_path / "marker"
    monkeypatch.setenv("FINETUI_TEST_MARKER", str(marker))
    # transformers copies trusted code into its modules cache; keep that in tmp.
    import transformers.dynamic_module_utils as dmu

    monkeypatch.setattr(dmu, "HF_MODULES_CACHE", str(tmp_path / "hf-modules"))
    return folder


@pytest.mark.slow
def test_bundled_model_loads_in_4bit_on_cpu() -> None:
    import bitsandbytes as bnb
    import torch

    loaded = load_model("finetui-tiny", device="cpu")
    model, tokenizer = loaded
    assert (loaded.quant, loaded.device, loaded.compute_dtype) == ("4bit", "cpu", "float32")
    assert loaded.resolved.source == "bundled"
    linears = {name: module for name, module in model.named_modules() if name.endswith(("_proj",))}
    assert len(linears) == 7 * model.config.num_hidden_layers
    assert all(isinstance(m, bnb.nn.Linear4bit) for m in linears.values())
    q_state = next(iter(linears.values())).weight.quant_state
    assert q_state.quant_type == "nf4" and q_state.nested  # NF4 with double quantization
    assert tokenizer.bos_token == "<s>" and tokenizer.eos_token == "</s>" and tokenizer.pad_token == "<pad>"
    batch = tokenizer(["It was a dark night", "Holmes"], return_tensors="pt", padding=True)
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape[:2] == batch["input_ids"].shape and torch.isfinite(logits).all()


def test_remote_code_is_refused_without_opt_in(custom_code_model: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError) as info:
        load_model(str(custom_code_model), quant="none", device="cpu")
    assert info.value.message == "'custom' ships its own code (configuration_tiny.TinyCustomConfig, modeling_tiny.TinyCustomForCausalLM)"
    assert (info.value.code, info.value.hint) == ("remote_code", Hint("model.trust_remote_code", True, "if you trust it"))
    # The engine names the setting; the CLI words it as its flag, and text read outside a front end in config terms.
    assert worded(info.value) == info.value.message + "; pass --trust-remote-code if you trust it"
    assert str(info.value) == info.value.message + "; set model.trust_remote_code to True if you trust it"
    assert not (tmp_path / "marker").exists()  # its code never ran


def test_remote_code_loads_when_trusted(custom_code_model: Path, tmp_path: Path) -> None:
    model, _ = load_model(str(custom_code_model), quant="none", device="cpu", trust_remote_code=True)
    assert type(model).__name__ == "TinyCustomForCausalLM"
    assert (tmp_path / "marker").read_text() == "imported"


def test_remote_code_in_tokenizer_config_counts(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"auto_map": {"AutoTokenizer": ["tok.MyTokenizer", None]}}))
    assert remote_code_files(tmp_path) == ["tok.MyTokenizer"]


def test_missing_bitsandbytes_suggests_quant_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # import fails
    with pytest.raises(ModelError, match=r"4bit loading needs bitsandbytes") as info:
        load_mod.check_bitsandbytes("4bit", "cpu")
    assert (info.value.code, info.value.hint) == ("quantization", Hint("model.quant", "none", "to load the model unquantized"))
    assert worded(info.value).endswith("; pass --quant none to load the model unquantized")


def test_bitsandbytes_without_a_backend_for_the_device_suggests_quant_none(monkeypatch: pytest.MonkeyPatch) -> None:
    import bitsandbytes as bnb

    monkeypatch.setattr(bnb, "supported_torch_devices", {"cuda"}, raising=False)
    with pytest.raises(ModelError, match=r"no backend for cpu") as info:
        load_mod.check_bitsandbytes("8bit", "cpu")
    assert info.value.hint is not None and info.value.hint.setting == "model.quant" and info.value.hint.value == "none"


def test_unknown_quant() -> None:
    with pytest.raises(ModelError, match="unknown quantization '3bit'"):
        load_model("finetui-tiny", quant="3bit")  # type: ignore[arg-type]


def test_pickle_only_weights_are_refused(tmp_path: Path) -> None:
    from tests.tiny_model import make_model

    folder = make_model(tmp_path / "m")
    for f in folder.glob("*.safetensors"):
        f.unlink()
    with pytest.raises(ModelError, match="no .safetensors weights"):
        load_model(str(folder), quant="none", device="cpu")


def test_importing_engine_models_does_not_import_torch() -> None:
    import subprocess

    code = "import sys, engine.models, tui.commands.models; print(any(m in sys.modules for m in ('torch', 'transformers', 'bitsandbytes')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_compute_dtype_defaults_and_override() -> None:
    import torch

    assert load_mod.compute_dtype("cpu") == torch.float32
    assert load_mod.compute_dtype("cpu", "bfloat16") == torch.bfloat16
    with pytest.raises(ModelError, match="unknown compute dtype 'fp8'"):
        load_mod.compute_dtype("cpu", "fp8")
