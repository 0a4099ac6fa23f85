"""engine.plan and ``finetui plan``: the memory breakdown's arithmetic on known shapes, LoRA counts as peft makes them, N devices, the CLI."""

from __future__ import annotations

import functools
import json
import math

import pytest

from engine.estimate import count_parameters
from engine.models.resolve import bundled_models
from engine.plan import (
    CONTEXT_BYTES,
    GIB,
    LOGITS_BYTES,
    NF4_BYTES_PER_PARAM,
    ModelShape,
    choose_strategy,
    model_shape,
    plan,
    planned_gpu,
    shape_from_config,
)
from tui.cli import main

#: Each preset built once for the module (a meta-device 8B model takes a second or two).
preset = functools.cache(model_shape)

TINY = dict(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)


@pytest.fixture(scope="module")
def tiny() -> ModelShape:
    from transformers import LlamaConfig

    return shape_from_config(LlamaConfig(**TINY), "tiny")


def test_tiny_llama_counts_by_hand(tiny: ModelShape) -> None:
    h, i, layers, vocab, kv = 64, 128, 2, 300, 2 * 16
    per_layer = h * h + 2 * h * kv + h * h + 3 * h * i  # q, k, v, o, gate, up, down
    assert tiny.quantized == layers * per_layer  # lm_head is kept out of quantization
    norms = (2 * layers + 1) * h
    assert tiny.params == layers * per_layer + 2 * vocab * h + norms  # untied: embeddings and lm_head
    assert (tiny.q_dim, tiny.kv_dim, tiny.intermediate, tiny.vocab) == (64, 32, 128, 300)


def test_four_bit_base_bytes(tiny: ModelShape) -> None:
    """NF4 with double quantization: half a byte a weight plus its block scales; the rest stays float32."""
    p = plan(tiny, quant="4bit")
    assert p.single.base == int(NF4_BYTES_PER_PARAM * tiny.quantized + 4 * (tiny.params - tiny.quantized))
    assert NF4_BYTES_PER_PARAM == pytest.approx(0.5 + 1 / 64 + 4 / 16384)
    assert plan(tiny, quant="none").single.base == 2 * tiny.params
    assert plan(tiny, quant="8bit").single.base == tiny.quantized + 4 * tiny.quantized_rows + 4 * (tiny.params - tiny.quantized)


def test_llama_3_8b_preset() -> None:
    """The published Llama-3-8B: 8.03B parameters, 1.05B of them in the embeddings and the head."""
    shape = preset("shape:llama-3-8b")
    assert shape.params == 8_030_261_248
    assert shape.params - shape.quantized == 2 * 128_256 * 4096 + (2 * 32 + 1) * 4096
    assert plan(shape, lora_r=16).lora_params == 41_943_040  # 16 x (in + out) over the 7 x 32 adapted layers


@pytest.mark.parametrize("family", ["llama", "gpt2", "tied", "qwen3_moe"])
def test_lora_params_equal_what_peft_creates(family: str) -> None:
    """The same count as peft's trainable parameters on the real model (as training targets it), for Linear and Conv1D layers,
    tied or not, and a mixture of experts whose router is left alone."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig, Qwen3MoeConfig

    from engine.models.families import lora_targets

    if family == "gpt2":
        config = GPT2Config(vocab_size=300, n_embd=64, n_layer=2, n_head=4, n_positions=128)
    elif family == "qwen3_moe":
        config = Qwen3MoeConfig(**TINY, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32, head_dim=16)
    else:
        config = LlamaConfig(**TINY, tie_word_embeddings=family == "tied")
    shape = shape_from_config(config, family)
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_config(config)
    model = get_peft_model(base, LoraConfig(r=8, target_modules=lora_targets(base), task_type="CAUSAL_LM"))
    trainable, total = model.get_nb_trainable_parameters()
    assert plan(shape, lora_r=8).lora_params == trainable
    assert shape.params == total - trainable


def test_checkpointing_keeps_less() -> None:
    shape = preset("shape:llama-3.2-1b")
    on, off = plan(shape, checkpointing=True, seq_len=2048), plan(shape, checkpointing=False, seq_len=2048)
    assert on.single.activations < off.single.activations / 5
    assert on.single.activations == on.with_checkpointing and off.single.activations == off.without_checkpointing
    assert on.single.logits == off.single.logits == LOGITS_BYTES * 4 * 2048 * 128_256
    # The logits of a 128k vocabulary outweigh the checkpointed activations.
    assert on.single.logits > on.single.activations
    # Twice the batch, twice every per-token figure; the weights stay.
    double = plan(shape, batch_size=8, seq_len=2048)
    assert double.single.activations == 2 * on.single.activations and double.single.base == on.single.base


def test_paged_adamw_8bit_holds_a_quarter(tiny: ModelShape) -> None:
    adamw, paged = plan(tiny, optim="adamw"), plan(tiny, optim="paged_adamw_8bit")
    assert adamw.single.optimizer == 8 * adamw.lora_params
    assert paged.single.optimizer < adamw.single.optimizer / 3.9


def test_devices_ddp_and_fsdp() -> None:
    shape = preset("shape:llama-3-8b")
    one = plan(shape, batch_size=2, grad_accum=4, seq_len=2048)
    two = plan(shape, batch_size=2, grad_accum=4, seq_len=2048, devices=2)
    assert (one.global_batch, two.global_batch) == (8, 16)
    assert two.single == one.single  # DDP: a full copy on each device
    assert two.fsdp.optimizer == math.ceil(one.single.optimizer / 2) and two.fsdp.lora == math.ceil(one.single.lora / 2)
    assert one.single.base / 2 < two.fsdp.base < one.single.base  # shards, plus the layers gathered at a time
    assert two.fsdp.activations == one.single.activations  # each device still runs its own batch
    assert two.fsdp.total < two.single.total


def test_choose_strategy() -> None:
    shape = preset("shape:llama-3-8b")
    free = plan(shape, seq_len=2048, devices=2)
    ddp_total, fsdp_total = free.single.total, free.fsdp.total
    roomy = plan(shape, seq_len=2048, devices=2, gpu=planned_gpu(ddp_total / GIB + 1))
    tight = plan(shape, seq_len=2048, devices=2, gpu=planned_gpu((ddp_total + fsdp_total) / 2 / GIB))
    assert choose_strategy(roomy, 2) == "ddp" and roomy.fits("ddp")
    assert choose_strategy(tight, 2) == "fsdp" and tight.fits("fsdp") and not tight.fits("ddp")
    assert choose_strategy(tight, 1) == "ddp"  # one device: nothing to shard over
    assert choose_strategy(free, 2) == "ddp"  # no GPU to compare with: the CPU's gloo path


def test_liger_never_holds_the_full_logits() -> None:
    shape = preset("shape:llama-3-8b")
    assert plan(shape, seq_len=2048, liger=True).single.logits < plan(shape, seq_len=2048).single.logits / 10


def test_per_token_and_fixed_add_up() -> None:
    p = plan(preset("shape:llama-3.2-3b"), batch_size=3, seq_len=1024)
    assert p.fixed + p.per_token * 3 * 1024 == pytest.approx(p.single.total)
    assert p.fixed == p.single.base + p.single.lora + p.single.grads + p.single.optimizer + CONTEXT_BYTES


def test_folder_config_only(tmp_path) -> None:
    """A model folder needs its config.json, not its weights; the count matches what the weights would hold."""
    from transformers import LlamaConfig

    LlamaConfig(**TINY).save_pretrained(tmp_path)
    assert not list(tmp_path.glob("*.safetensors"))
    shape = model_shape(str(tmp_path))
    assert shape.params == shape_from_config(LlamaConfig(**TINY), "x").params


def test_bundled_model_count_matches_its_weights() -> None:
    folder = bundled_models()["finetui-tiny"]
    assert model_shape("finetui-tiny").params == count_parameters(folder)


def test_cli_plan(capsys) -> None:
    assert main(["plan", "--model", "shape:llama-3.2-1b", "--seq-len", "2048", "--gpu-memory", "80"]) == 0
    out = capsys.readouterr().out
    assert "base weights (4bit)" in out and "logits and loss" in out and "CUDA context" in out
    assert "fits: " in out and "a 80 GiB card" in out
    assert main(["plan", "--model", "shape:llama-3-8b", "--seq-len", "4096", "--batch-size", "8", "--gpu-memory", "24"]) == 0
    out = capsys.readouterr().out
    assert "does not fit" in out and "would fit: --batch-size " in out


def test_cli_plan_devices_json(capsys) -> None:
    assert main(["plan", "--model", "shape:llama-3-8b", "--devices", "4", "--batch-size", "2", "--grad-accum", "2", "--json", "--gpu-memory", "8"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["devices"] == 4 and data["global_batch"] == 16
    assert data["strategy"] == "fsdp" and data["fsdp"]["total"] < data["single"]["total"]
    assert data["single"]["context"] == CONTEXT_BYTES


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--model", "shape:nope"], "no shape preset 'nope'"),
        (["--model", "/no/such/folder"], "no model '/no/such/folder'"),
        (["--model", "/"], "'/' has no config.json: it is not a Hugging Face model folder; see --model"),
        (["--lora-r", "0"], "--lora-r must be at least 1"),
        (["--devices", "two"], "--devices must be a whole number"),
        (["--gpu-memory", "lots"], "--gpu-memory must be a size in GiB"),
        (["--gpu-memory", "-3"], "--gpu-memory must be a positive size"),
    ],
)
def test_cli_plan_bad_input_is_one_line(argv: list[str], says: str, capsys) -> None:
    assert main(["plan", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("finetui plan: error: ") and says in captured.err


def test_module_entry_for_the_tui(capsys) -> None:
    """``python -m engine.plan SECTIONS``, as the train screen runs it: the plan's JSON, or one error."""
    from engine.plan import GPU_MEMORY_ENV
    from engine.plan import main as plan_main

    sections = {"model": {"name": "shape:llama-3.2-1b"}, "lora": {"r": 8}, "train": {"seq_len": 1024, "devices": "2"}}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(GPU_MEMORY_ENV, "24")
        assert plan_main([json.dumps(sections)]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["fits"] is True and data["devices"] == 2 and data["gpu"]["total"] == 24 * GIB
        assert data["optim"] == "paged_adamw_8bit" and data["checkpointing"] is True  # a GPU run's "auto"
        assert plan_main([json.dumps({"model": {"name": "shape:nope"}, "lora": {}, "train": {}})]) == 1
        assert "no shape preset" in json.loads(capsys.readouterr().out)["error"]


@pytest.mark.slow
@pytest.mark.usefixtures("tui_env")
async def test_train_screen_warns_before_a_launch_that_wont_fit(monkeypatch) -> None:
    """With a GPU (here a 0.25 GiB one, by $FINETUI_GPU_MEMORY) too small for the run, the estimate says so and Ctrl+S asks first."""
    from textual.widgets import Button

    from engine.plan import GPU_MEMORY_ENV
    from engine.runs import RunStore
    from tests.pilot_helpers import until
    from tests.test_tui_train import HAIKU, SIZE, open_train, text
    from tui.app import FinetuiApp
    from tui.screens.dialogs import ConfirmScreen

    monkeypatch.setenv(GPU_MEMORY_ENV, "0.25")
    async with FinetuiApp(start_path=HAIKU).run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        await until(pilot, lambda: "GPU memory" in text(screen, "#estimate"), timeout=240)  # a process importing torch
        assert "⚠ needs" in text(screen, "#estimate") and "256.0 MB free" in text(screen, "#estimate")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        dialog = pilot.app.screen
        assert isinstance(dialog, ConfirmScreen) and dialog.title_text == "Start a run that won't fit the GPU?" and "⚠ needs" in dialog.message
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(pilot.app.screen, ConfirmScreen))
        assert RunStore().list() == [] and not screen.query_one("#launch", Button).disabled


@pytest.mark.parametrize("dropout", [0.0, 0.05])
def test_activations_are_what_autograd_saves(dropout: float) -> None:
    """The per-layer formula against the bytes autograd saves for backward on a real LoRA Llama (CPU, float32):
    the difference between a 2- and a 1-layer model, per token, parameters left out."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, LlamaConfig

    from engine.models.families import lora_targets
    from engine.plan import layer_bytes_per_token

    def saved(layers: int) -> tuple[int, ModelShape]:
        config = LlamaConfig(**{**TINY, "hidden_size": 128, "intermediate_size": 352, "num_hidden_layers": layers})
        torch.manual_seed(0)
        base = AutoModelForCausalLM.from_config(config)
        model = get_peft_model(base, LoraConfig(r=8, lora_dropout=dropout, target_modules=lora_targets(base), task_type="CAUSAL_LM"))
        model.train()
        params = {p.data_ptr() for p in model.parameters()}
        storages: dict[int, int] = {}

        def keep(t: torch.Tensor) -> torch.Tensor:
            if t.data_ptr() not in params:
                storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        ids = torch.randint(0, 300, (2, 64))
        with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        return sum(storages.values()), shape_from_config(config, "x")

    one, _ = saved(1)
    two, shape = saved(2)
    measured = (two - one) / (2 * 64)
    # float32 throughout on the CPU, whose dropout keeps a float32 mask
    assert layer_bytes_per_token(shape, stream=4, compute=4, dropout=dropout > 0, lora_r=8, mask=4) == pytest.approx(measured, rel=0.03)


#: What an offline plan of a Hub id ends with: the shapes that plan with no Hub.
SHAPES = "--model also takes a published shape, which needs no Hub: shape:llama-2-7b, shape:llama-3-8b, shape:llama-3.2-3b, shape:llama-3.2-1b"


def test_a_hub_config_that_cannot_be_fetched_says_offline_after_saying_it_asks(tmp_path, monkeypatch, capsys) -> None:
    """transformers wraps the Hub's "not reachable" in an OSError paragraph: plan says it in one line, as a download does."""
    import transformers
    from huggingface_hub.errors import LocalEntryNotFoundError

    def unreachable(*args, **kwargs):
        try:
            raise LocalEntryNotFoundError("An error happened while trying to locate the file on the Hub")
        except LocalEntryNotFoundError as cause:
            raise OSError("We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find them.") from cause

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", unreachable)
    assert main(["plan", "--model", "someone/not-here"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "finetui plan: reading the config of 'someone/not-here' from the Hugging Face Hub…"
    assert err[-1] == "finetui plan: error: cannot read the config of 'someone/not-here': offline and not in the local Hugging Face cache; " + SHAPES


def test_offline_a_hub_config_not_on_disk_fails_at_once_in_the_same_words(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["plan", "--model", "someone/not-here"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "finetui plan: error: cannot read the config of 'someone/not-here': offline and not in the local Hugging Face cache; " + SHAPES
    ]
