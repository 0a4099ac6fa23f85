"""``finetui models``: the table and the JSON list, bundled model first, cached models after."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from tests.test_models_resolve import add_to_hf_cache
from tui.commands import models as models_cmd


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="finetui")
    models_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["models", *argv])
    return args.func(args)


@pytest.fixture(autouse=True)
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    config = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2"}
    add_to_hf_cache(cache, "Qwen/Qwen2.5-0.5B", {"config.json": json.dumps(config).encode(), "model.safetensors": b"\0" * 2048})
    return cache


def test_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "SOURCE", "ARCHITECTURE", "SIZE", "PATH"]
    assert out[1].split()[:4] == ["finetui-tiny", "*", "bundled", "LlamaForCausalLM"]
    row = out[2].split()
    assert row[:3] == ["Qwen/Qwen2.5-0.5B", "cache", "Qwen2ForCausalLM"]
    assert row[4] == "KB" and 2.0 <= float(row[3]) < 3.0  # 2 KB of weights, plus config and refs
    assert out[-1] == "* the default model"


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(m["name"], m["source"], m["default"]) for m in listed] == [
        ("finetui-tiny", "bundled", True),
        ("Qwen/Qwen2.5-0.5B", "cache", False),
    ]
    assert listed[1]["size_bytes"] > 2048 and listed[1]["model_type"] == "qwen2"
