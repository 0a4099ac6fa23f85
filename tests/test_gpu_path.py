"""The GPU path: its decisions, checked here on any machine from given device figures, and the real thing on a GPU.

The pure tests pin what ``engine.gpu`` chooses for the cards users
have (capability 7.5 is a T4, 7.0 a V100, 8.0 an A100, 9.0 an H100) and the
arithmetic of the out-of-memory advice. The ``gpu`` tests train on CUDA and
are skipped without it (tests/conftest.py).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from engine import gpu
from engine.config import ConfigError, DataConfig, LoraConfig, ModelConfig, RunConfig, TrainConfig
from engine.gpu import CPU, Device, GpuSettingError
from engine.runs.events import TrainFigures
from engine.train import oom
from engine.train.packing import PackedCollator, Row

T4 = Device("Tesla T4", (7, 5), 15 * 2**30)
V100 = Device("Tesla V100", (7, 0), 16 * 2**30)
A100 = Device("A100", (8, 0), 80 * 2**30)
H100 = Device("H100", (9, 0), 80 * 2**30)


@pytest.mark.parametrize(("device", "expected"), [(CPU, "fp32"), (T4, "fp16"), (V100, "fp16"), (A100, "bf16"), (H100, "bf16")])
def test_precision_follows_the_compute_capability(device: Device, expected: str) -> None:
    assert gpu.precision(device) == expected


def test_fp16_turns_on_loss_scaling_and_bf16_does_not() -> None:
    older = gpu.Choices("fp16", True, "sdpa", "paged_adamw_8bit", False).trainer_args()
    newer = gpu.Choices("bf16", True, "sdpa", "paged_adamw_8bit", False).trainer_args()
    assert (older["fp16"], older["bf16"]) == (True, False)  # the Trainer's fp16 runs a GradScaler
    assert (newer["fp16"], newer["bf16"]) == (False, True)


def test_an_explicit_precision_the_device_lacks_is_refused_with_a_hint() -> None:
    with pytest.raises(GpuSettingError, match="T4 has no bf16") as caught:
        gpu.precision(T4, "bf16")
    assert caught.value.hint is not None and caught.value.hint.setting == "train.precision"
    with pytest.raises(GpuSettingError, match="needs a GPU"):
        gpu.precision(CPU, "fp16")


def test_checkpointing_is_on_by_default_on_a_gpu_and_non_reentrant() -> None:
    assert gpu.checkpointing(T4) and not gpu.checkpointing(CPU)
    assert gpu.checkpointing(CPU, "on") and not gpu.checkpointing(H100, "off")
    args = gpu.Choices("bf16", True, "sdpa", "adamw", False).trainer_args()
    assert args["gradient_checkpointing"] and args["gradient_checkpointing_kwargs"] == {"use_reentrant": False}


def test_attention_takes_flash_attention_only_where_it_runs() -> None:
    assert gpu.attention(H100, "bf16", flash_installed=True) == "flash_attention_2"
    assert gpu.attention(H100, "bf16", flash_installed=False) == "sdpa"
    assert gpu.attention(CPU, "fp32", flash_installed=True) == "sdpa"
    assert gpu.attention(H100, "fp32", flash_installed=True) == "sdpa"  # FlashAttention computes in 16 bits only
    with pytest.raises(GpuSettingError, match="not installed"):
        gpu.attention(H100, "bf16", "flash_attention_2", flash_installed=False)
    assert gpu.attention(CPU, "fp32", "eager") == "eager"


def test_optimizer_and_liger_defaults() -> None:
    assert (gpu.optimizer(CPU), gpu.optimizer(T4)) == ("adamw", "paged_adamw_8bit")
    with pytest.raises(GpuSettingError, match="needs a CUDA GPU"):
        gpu.optimizer(CPU, "paged_adamw_8bit")
    assert gpu.liger(H100, installed=True) and not gpu.liger(H100, installed=False) and not gpu.liger(CPU, installed=True)
    with pytest.raises(GpuSettingError, match="not installed"):
        gpu.liger(H100, "on", installed=False)


def test_the_cpu_choices_of_a_default_config() -> None:
    choices = gpu.choose(CPU, RunConfig("x", DataConfig("d.txt")))
    assert choices == gpu.Choices("fp32", False, "sdpa", "adamw", False)
    assert choices.trainer_args()["optim"] == "adamw_torch_fused"


@pytest.mark.parametrize(("path", "value"), [("train.optim", "sgd"), ("train.precision", "fp8"), ("model.attention", "flash"), ("train.liger", "yes")])
def test_settings_refuse_unknown_choices_naming_the_field(path: str, value: str) -> None:
    section, name = path.split(".")
    raw = {"name": "x", "data": {"path": "d.txt"}, section: {name: value}}
    with pytest.raises(ConfigError) as caught:
        RunConfig.from_dict(raw)
    assert caught.value.path == path and "one of" in str(caught.value)


def test_oom_advice_lowers_the_batch_first_and_keeps_the_step_size() -> None:
    gib = 2**30
    # 10 GiB fixed, 1 MiB per token: batch 8 x 1024 tokens wants 18 GiB on a 16 GiB card; batch 6 fits.
    fit = oom.fitting(10 * gib, 2**20, 16 * gib, batch_size=8, seq_len=1024)
    assert fit == oom.Fit(6, 1024)
    text = oom.oom_advice(8, 1024, 1, fit, "Tesla T4", 15 * gib)
    assert "batch size 8, sequence length 1024" in text and "set train.batch_size to 6 and train.grad_accum to 2 (12 sequences per step; it was 8)" in text
    assert "15.0 GiB" in text
    assert "set train.batch_size to 2 and train.grad_accum to 4 (the same 8 sequences per step)" in oom.oom_advice(8, 1024, 1, oom.Fit(2, 1024), "T4", None)


def test_oom_advice_shortens_the_sequence_when_one_row_does_not_fit() -> None:
    gib = 2**30
    fit = oom.fitting(15 * gib, 2**20, 16 * gib, batch_size=4, seq_len=4096)  # 1 GiB of room: 1024 tokens
    assert fit == oom.Fit(1, 1024)
    assert "set train.batch_size to 1, train.seq_len to 1024 and train.grad_accum to 4" in oom.oom_advice(4, 4096, 1, fit, "T4", None)
    assert oom.fitting(16 * gib, 2**20, 16 * gib, 4, 4096) is None
    assert "even batch 1 at 64 tokens does not fit; set model.quant to '4bit', or use a smaller model" in oom.oom_advice(4, 4096, 1, None, "T4", None)


def test_measured_fit_scales_from_the_failed_step() -> None:
    gib = 2**30
    # Weights 4 GiB; the step reached 14 GiB and asked for 2 more at 4 x 2048 tokens: 12 GiB for 8192 tokens;
    # 10 GiB of room above the weights holds 3 rows of 2048.
    assert oom.measured_fit(14 * gib, 2 * gib, 4 * gib, 4, 2048) == oom.Fit(3, 2048)
    try:
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 14.58 GiB")
    except RuntimeError as exc:
        assert oom.requested_bytes(exc) == 2 * gib
    assert oom.requested_bytes(ValueError("no size here")) == 0


def test_cuda_oom_is_recognised_through_chained_errors() -> None:
    class OutOfMemoryError(RuntimeError):
        pass

    try:
        try:
            raise OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        except OutOfMemoryError as inner:
            raise RuntimeError("step failed") from inner
    except RuntimeError as outer:
        assert oom.is_cuda_oom(outer)
    assert not oom.is_cuda_oom(ValueError("bad value"))


def test_the_worker_words_a_gpu_oom_as_its_advice() -> None:
    from engine.train.failure import failure_reason

    advice = oom.oom_advice(8, 1024, 1, oom.Fit(6, 1024), "T4", None)
    assert failure_reason(oom.GpuOutOfMemory(advice)) == advice


def test_flattened_packing_keeps_each_example_s_positions() -> None:
    rows = [Row([1, 2, 3, 4, 5], [-100, 2, 3, -100, 5], [0, 1, 2, 0, 1]), Row([6, 7], [-100, 7], [0, 1])]
    batch = PackedCollator(pad_id=0, flatten=True)(rows)
    assert batch["input_ids"].tolist() == [[1, 2, 3, 4, 5, 6, 7]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1, 0, 1]]  # three examples, as FlashAttention's varlen path reads them
    assert batch["labels"].tolist() == [[-100, 2, 3, -100, 5, -100, 7]]
    padded = PackedCollator(pad_id=0)(rows)
    assert padded["input_ids"].shape == (2, 5)


def test_flattened_packing_computes_what_separate_sequences_compute(tmp_path: Path) -> None:
    """The flattened row's logits for each example equal that example's logits alone (the attention stays within examples)."""
    import torch
    from transformers import AutoModelForCausalLM

    from tests.tiny_model import make_model

    model = AutoModelForCausalLM.from_pretrained(make_model(tmp_path)).eval()
    a, b = [5, 9, 12, 40, 41], [7, 8, 30]
    batch = PackedCollator(pad_id=0, flatten=True)([Row(a + b, a + b, list(range(5)) + list(range(3)))])
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits[0]  # a cache hides the boundaries
        alone_a = model(input_ids=torch.tensor([a])).logits[0]
        alone_b = model(input_ids=torch.tensor([b])).logits[0]
    assert torch.allclose(packed[:5], alone_a, atol=1e-5) and torch.allclose(packed[5:], alone_b, atol=1e-5)


def test_scorecard_reads_old_runs_without_per_gpu_memory() -> None:
    old = {"steps": 3, "peak_memory_bytes": 123}
    assert TrainFigures.from_json(old).peak_memory_per_gpu == ()
    new = TrainFigures(steps=3, peak_memory_per_gpu=(10, 20))
    assert TrainFigures.from_json(json.loads(json.dumps(new.to_json()))).peak_memory_per_gpu == (10, 20)
    assert TrainFigures.from_json({"peak_memory_per_gpu": ["x", -1]}).peak_memory_per_gpu == ()


def test_the_scorecard_text_shows_each_gpu_s_peak() -> None:
    from engine.runs.events import EvalFigures, Scorecard
    from tui.format import format_scorecard

    figures = EvalFigures(2.0, 0.5, 10)
    mib = 2**20
    two = TrainFigures(steps=1, tokens=10, peak_memory_bytes=900 * mib, peak_memory_per_gpu=(900 * mib, 850 * mib), device="H100")
    assert "(per GPU: 900 / 850 MiB)" in format_scorecard(Scorecard(figures, figures, two))
    one = TrainFigures(steps=1, tokens=10, peak_memory_bytes=900 * mib, peak_memory_per_gpu=(900 * mib,), device="H100")
    assert "per GPU" not in format_scorecard(Scorecard(figures, figures, one))


# -- on a GPU --------------------------------------------------------------------------------------


@pytest.mark.gpu
def test_a_gpu_run_uses_the_gpu_path_and_records_its_memory(tmp_path: Path, finetui_home: Path) -> None:
    """A real 4-bit run on CUDA: the device's dtype, checkpointing, the paged optimizer, per-GPU peak memory."""
    import torch

    from engine.runs import RunStore
    from engine.train.worker import _work
    from tests.tiny_model import make_model

    data = tmp_path / "lines.txt"
    data.write_text("\n--SEP--\n".join(f"the quick brown fox jumps over the lazy dog {i}" for i in range(40)))
    config = RunConfig(
        "gpu", DataConfig(str(data), separator="--SEP--"), ModelConfig(str(make_model(tmp_path / "m"))), LoraConfig(r=4, alpha=8),
        TrainConfig(max_steps=3, batch_size=4, seq_len=64, save_steps=100, eval_steps=0),
    )
    run = RunStore().create(config)
    assert _work(run, threading.Event(), resume=False) == 0, run.status().reason
    card = run.metrics()
    assert card is not None and card.train.device == torch.cuda.get_device_name(0)
    assert len(card.train.peak_memory_per_gpu) == torch.cuda.device_count() and card.train.peak_memory_per_gpu[0] > 0
    choices = gpu.choose(gpu.probe(), config)
    assert choices.checkpointing and choices.optim == "paged_adamw_8bit"
    assert choices.precision == ("bf16" if torch.cuda.get_device_capability(0) >= (8, 0) else "fp16")
    assert f"device: {choices.describe()}" in run.log_path.read_text()


@pytest.mark.gpu
def test_a_cuda_oom_fails_the_run_with_numbers(tmp_path: Path, finetui_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real CUDA OOM, forced by capping this process's memory: the run fails with a smaller batch (or says none fits)."""
    import torch

    from engine.runs import RunStore
    from engine.train.worker import _work
    from tests.tiny_model import make_model

    cap = 32 * 2**20  # the tiny model and its adapter fit; a step's logits (64 x 256 tokens x the vocabulary, several copies) do not
    torch.cuda.set_per_process_memory_fraction(cap / torch.cuda.get_device_properties(0).total_memory, 0)
    try:
        data = tmp_path / "lines.txt"
        data.write_text("\n--SEP--\n".join(" ".join(["the quick brown fox jumps over the lazy dog"] * 20) + f" {i}" for i in range(64)))
        config = RunConfig(
            "oom", DataConfig(str(data), separator="--SEP--"), ModelConfig(str(make_model(tmp_path / "m"))),
            train=TrainConfig(max_steps=2, batch_size=64, seq_len=256, save_steps=100, eval_steps=0),
        )
        run = RunStore().create(config)
        assert _work(run, threading.Event(), resume=False) == 1
        reason = run.status().reason or ""
        assert "ran out of memory" in reason and "batch size 64, sequence length 256" in reason, reason
        assert "--batch-size 64 " not in reason and ("--batch-size" in reason or "even batch 1" in reason), reason  # a smaller batch, or none
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, 0)
