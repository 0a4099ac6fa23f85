"""Model and adapter folders checked from their files before anything loads (issue 12, defects 6 and 12)."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from engine.estimate import model_facts
from engine.models import ModelError
from engine.models.check import check_adapter, check_model
from engine.models.resolve import BUNDLED_DIR

TINY = BUNDLED_DIR / "finetui-tiny"


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(TINY, folder)
    return folder


def _header(path: Path, header: object) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)


def test_the_bundled_model_passes():
    assert check_model("finetui-tiny") is not None


BROKEN = {
    "config not JSON": lambda f: (f / "config.json").write_text("{"),
    "config a list": lambda f: (f / "config.json").write_text("[1]"),
    "config without model_type": lambda f: (f / "config.json").write_text("{}"),
    "no weights": lambda f: [p.unlink() for p in f.glob("*.safetensors")],
    "only .bin weights": lambda f: [p.rename(p.with_suffix(".bin")) for p in f.glob("*.safetensors")],
    "empty safetensors": lambda f: [p.write_bytes(b"") for p in f.glob("*.safetensors")],
    "header length past the end": lambda f: [p.write_bytes(struct.pack("<Q", 10**12)) for p in f.glob("*.safetensors")],
    "header not JSON": lambda f: [p.write_bytes(struct.pack("<Q", 3) + b"{{{") for p in f.glob("*.safetensors")],
    "tensor without shape": lambda f: [_header(p, {"w": {"dtype": "F32"}}) for p in f.glob("*.safetensors")],
    "header a list": lambda f: [_header(p, [1]) for p in f.glob("*.safetensors")],
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_model_folder_is_refused_in_one_line_and_the_estimate_does_not_crash(model_copy, case):
    BROKEN[case](model_copy)
    with pytest.raises(ModelError) as info:
        check_model(str(model_copy))
    assert "\n" not in str(info.value)
    facts = model_facts(str(model_copy))  # the TUI reads this for every typed model: no crash, a note
    assert facts.path is None and facts.note == str(info.value)


def test_missing_file_and_offline_models_are_refused(tmp_path, monkeypatch):
    with pytest.raises(ModelError, match="no model"):
        check_model("/no/such/model")
    file = tmp_path / "file.txt"
    file.write_text("x")
    with pytest.raises(ModelError, match="is a file"):
        check_model(str(file))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ModelError, match="offline"):
        check_model("someorg/nomodel")


def test_adapters_load_from_safetensors_only(tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    (adapter / "adapter_model.bin").write_bytes(b"pickled")
    with pytest.raises(ModelError, match="only pickled weights"):
        check_adapter(adapter, "the adapter")
    _header(adapter / "adapter_model.safetensors", {})
    check_adapter(adapter, "the adapter")
