"""finetui export on a run trained here: merged weights, adapter, GGUF, the round-trip check and the refusals.

One chat run on the tiny in-test Llama (tests/tiny_model.py, trained for 2
steps in this process) serves the module: chats go through the chat
template, so a broken template, eos or tokenizer shows in the eval split's
tokens, loss and stops. The check's failures are provoked by damaging a copy
of a good export, one thing at a time.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from engine.config import DataConfig, LoraConfig, ModelConfig, RunConfig, TrainConfig
from engine.export.check import LOSS_TOLERANCE, check_hf
from engine.export.exporter import ExportOptions, _fresh_tokenizer, export_run
from engine.export.template import trained_format
from engine.runs import Run, RunStore
from tests.tiny_model import make_model
from tui.cli import main

WORDS = "the quick brown fox jumps over the lazy dog a journey of a thousand miles begins".split()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """A Ready chat run (2 steps on the tiny model) in its own home, and its fp32 export through the CLI."""
    from engine.train.finetune import fine_tune

    root = tmp_path_factory.mktemp("export")
    model = make_model(root / "tiny")
    rows = [{"messages": [{"role": "user", "content": " ".join(WORDS[i % 7 : i % 7 + 4])},
                          {"role": "assistant", "content": " ".join(WORDS[(i * 3) % 9 : (i * 3) % 9 + 3])}]} for i in range(30)]
    data = root / "chat.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows))
    home = root / "home"
    store = RunStore(home / "runs")
    train = TrainConfig(max_steps=2, lr=5e-3, batch_size=4, seq_len=64, save_steps=100, eval_steps=0, samples=0)
    run = store.create(RunConfig("chat", DataConfig(str(data), eval_fraction=0.2), ModelConfig(str(model)), LoraConfig(r=4, alpha=8), train))
    assert fine_tune(run, threading.Event()) == "ready"
    run.write_status(run.status().moved("ready"))
    return {"root": root, "home": home, "store": store, "run": run}


@pytest.fixture(scope="module")
def hf(world) -> dict:
    """``finetui export RUN --to hf --dtype fp32`` through the CLI, its output captured."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    out = world["root"] / "hf"
    buffer, errors = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FINETUI_HOME", str(world["home"]))
        with redirect_stdout(buffer), redirect_stderr(errors):
            code = main(["export", world["run"].id, "--to", "hf", "--dtype", "fp32", "--out", str(out)])
    return {"code": code, "text": buffer.getvalue() + errors.getvalue().splitlines()[-1:][0] if errors.getvalue() else buffer.getvalue(), "path": out}


def _check(world, folder: Path):
    run: Run = world["run"]
    return check_hf(run, folder, "fp32", trained_format(run, _fresh_tokenizer(run)), _fresh_tokenizer(run), lambda _: None)


def _damaged_copy(world, hf, name: str) -> Path:
    copy = world["root"] / f"damaged-{name}"
    shutil.copytree(hf["path"], copy)
    return copy


@pytest.mark.slow
def test_hf_export_reloads_with_plain_transformers_and_passes_its_check(world, hf):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert hf["code"] == 0, hf["text"]
    assert "round-trip check" in hf["text"] and "PASSED" in hf["text"]
    assert f"exported to {hf['path']}" in hf["text"]
    loss_line = next(line for line in hf["text"].splitlines() if "eval loss vs scorecard" in line)
    diff = float(loss_line.split("|diff| ")[1].split(",")[0])
    assert diff <= LOSS_TOLERANCE["fp32"] == 1e-3
    answers = next(line for line in hf["text"].splitlines() if "greedy answers vs playground" in line)
    assert answers.lstrip().startswith("ok") and "must all match" in answers  # a difference only after a near-tie is allowed
    model = AutoModelForCausalLM.from_pretrained(hf["path"])
    tokenizer = AutoTokenizer.from_pretrained(hf["path"])
    assert not any("lora" in name for name, _ in model.named_parameters())
    assert "quantization_config" not in json.loads((hf["path"] / "config.json").read_text())
    fmt = trained_format(world["run"], _fresh_tokenizer(world["run"]))
    assert tokenizer.chat_template == fmt.chat_template is not None
    eos = model.generation_config.eos_token_id
    assert set(fmt.eos_token_ids) <= set([eos] if isinstance(eos, int) else eos)
    card = (hf["path"] / "README.md").read_text()
    assert "base_model: " + str(world["root"] / "tiny") in card and "r=4, alpha=8" in card
    assert (hf["path"] / "roundtrip.txt").read_text().startswith("round-trip check")


@pytest.mark.slow
def test_check_fails_on_a_broken_chat_template(world, hf):
    folder = _damaged_copy(world, hf, "template")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = tokenizer.chat_template.replace("<|{{ m['role'] }}|>", "### {{ m['role'] }}: ")
    tokenizer.save_pretrained(folder)
    report = _check(world, folder)
    failed = {line.what for line in report.failures()}
    assert not report.passed
    assert {"chat template", "eval split tokens (transformers tokenizer)"} <= failed


@pytest.mark.slow
def test_check_fails_on_a_missing_end_of_turn(world, hf):
    folder = _damaged_copy(world, hf, "eos")
    config = json.loads((folder / "generation_config.json").read_text())
    config["eos_token_id"] = 2  # the pad token: generation would run on past the end of the turn
    (folder / "generation_config.json").write_text(json.dumps(config))
    report = _check(world, folder)
    assert [line.what for line in report.failures()] == ["end-of-turn ids (generation stops at)"]


@pytest.mark.slow
def test_check_fails_on_another_tokenizer(world, hf):
    folder = _damaged_copy(world, hf, "tokenizer")
    from transformers import AutoTokenizer

    a, b = AutoTokenizer.from_pretrained(folder).tokenize(" brown fox")[:2]  # two tokens of the data trade ids
    data = json.loads((folder / "tokenizer.json").read_text())
    vocab = data["model"]["vocab"]
    vocab[a], vocab[b] = vocab[b], vocab[a]
    (folder / "tokenizer.json").write_text(json.dumps(data))
    report = _check(world, folder)
    assert not report.passed
    assert "eval split tokens (transformers tokenizer)" in {line.what for line in report.failures()}


def test_adapter_export_is_a_clean_peft_folder_with_a_model_card(world):
    from peft import PeftConfig

    out = world["root"] / "adapter"
    result = export_run(world["run"], ExportOptions(target="adapter", out=out))
    assert result.passed
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md", "tokenizer.json", "roundtrip.txt"} <= {p.name for p in out.iterdir()}
    assert not any(p.name.startswith("checkpoint") for p in out.iterdir())
    assert PeftConfig.from_pretrained(str(out)).r == 4
    card = (out / "README.md").read_text()
    assert "library_name: peft" in card and f"`{world['root'] / 'tiny'}`" in card and "lr=0.005" in card


# -- refusals: one line, exit 2, nothing written or replaced ---------------------------------------


def _cli(world, capsys, *args: str) -> tuple[int, str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FINETUI_HOME", str(world["home"]))
        code = main(["export", world["run"].id, *args])
    err = capsys.readouterr().err.strip()
    return code, err


def test_a_run_that_is_not_ready_is_refused(world, capsys):
    run: Run = world["run"]
    run.write_status(run.status().moved("cancelled"))
    try:
        code, err = _cli(world, capsys, "--out", str(world["root"] / "never"))
    finally:
        run.write_status(run.status().moved("ready"))
    assert code == 2 and err.count("\n") == 0
    assert err == f"finetui export: error: run {run.id} is cancelled: only a Ready run can be exported"
    assert not (world["root"] / "never").exists()


def test_an_existing_folder_is_left_alone_without_force(world, capsys):
    out = world["root"] / "mine"
    out.mkdir()
    (out / "keep.txt").write_text("the user's")
    (out / ".finetui-export.json").write_text('{"finetui_export": 1}')  # an earlier export: --force replaces nothing else (tests/test_export_safety.py)
    code, err = _cli(world, capsys, "--to", "adapter", "--out", str(out))
    assert code == 2 and err == f"finetui export: error: {out} exists; pass --force to replace it, or --out another folder"
    assert sorted(p.name for p in out.iterdir()) == [".finetui-export.json", "keep.txt"]
    code, _ = _cli(world, capsys, "--to", "adapter", "--out", str(out), "--force", "--no-check")
    assert code == 0 and (out / "adapter_config.json").is_file() and not (out / "keep.txt").exists()


def test_too_little_disk_space_is_refused_with_the_amount_needed(world, capsys, monkeypatch):
    import shutil as real_shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("engine.export.space.shutil.disk_usage", lambda _: usage(10**9, 10**9 - 1000, 1000))
    assert real_shutil.disk_usage is not None
    code, err = _cli(world, capsys, "--dtype", "fp32", "--out", str(world["root"] / "full"))
    assert code == 2 and err.count("\n") == 0
    assert "not enough disk space in" in err and "the export needs about" in err and "1.0 KB is free" in err
    assert not (world["root"] / "full").exists()


def test_push_to_hub_offline_is_one_line_and_uploads_nothing(world, capsys, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    out = world["root"] / "pushed"
    code, err = _cli(world, capsys, "--to", "adapter", "--out", str(out), "--push-to-hub", "someone/model")
    assert code == 2 and err.count("\n") == 0
    assert err.startswith("finetui export: error: cannot push to someone/model:") and err.endswith("nothing was exported or uploaded")
    assert not out.exists()


# -- GGUF ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_gguf_export_by_llama_cpps_converter_reads_back_and_has_a_modelfile(world):
    out = world["root"] / "gguf"
    result = export_run(world["run"], ExportOptions(target="gguf", gguf_type="q8_0", dtype="fp32", out=out))
    assert result.passed, result.report
    gguf = out / f"{world['run'].id}-q8_0.gguf"
    assert gguf.is_file() and not (out / ".merged").exists()
    report = result.report or ""
    assert "vocabulary (GGUF tokens vs tokenizer, by id): export 0 of" in report
    assert "tensors vs merged weights" in report and "chat template (tokenizer.chat_template): export same as training" in report
    modelfile = (out / "Modelfile").read_text()
    assert f"FROM ./{gguf.name}" in modelfile and 'PARAMETER stop "</s>"' in modelfile
