"""Runs on several processes (CPU, gloo): the same code path as several GPUs, tested for real.

Two ranks of a tiny in-test model: a run reaches Ready with a loss curve
close to one process with the same global batch; kill -9 of rank 1 fails the
run naming rank 1, and resume (on one process: another N) completes it;
cancel stops both ranks with a checkpoint; no process outlives its run.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from functools import partial
from pathlib import Path

import psutil
import pytest

from engine.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from engine.runs import Run, RunStore
from engine.runs.events import CheckpointEvent, StepEvent
from engine.runs.lifecycle import resume_run, start_run
from engine.runs.process import cancel, refresh
from engine.train import distributed, ranks
from engine.train.distributed import Layout, rank_failure, rank_file
from tests.waiting import final_state, wait_for

TIMEOUT_S = 600  # a loaded 2-core machine starts three Python processes per launch


def _config(data: Path, model: Path, name: str, **train) -> RunConfig:
    train = {"max_steps": 4, "save_steps": 1, "lr": 5e-3, "batch_size": 2, "seq_len": 32, "devices": "2", "eval_steps": 0, "samples": 0, **train}
    return RunConfig(name, DataConfig(str(data), separator="--SEP--"), ModelConfig(str(model)), train=TrainConfig(**train))


_wait = partial(wait_for, timeout=TIMEOUT_S)


def _final(run: Run) -> str:
    return final_state(run, TIMEOUT_S)


def _processes_of(run: Run) -> list[psutil.Process]:
    """Every live process working on the run: its worker and its ranks (their command lines name the run folder)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and str(run.dir) in " ".join(proc.info["cmdline"] or ()):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _no_orphans(run: Run) -> None:
    left = _wait(lambda: not _processes_of(run), "every process of the run to end", timeout=60)
    assert left


def _rank_pid(run: Run, rank: int) -> int:
    """The pid of the run's rank ``rank``, found among its worker's children by their RANK."""

    def find() -> int | None:
        for proc in _processes_of(run):
            try:
                if "engine.train.distributed" in proc.cmdline() and proc.environ().get("RANK") == str(rank):
                    return proc.pid
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return None

    return _wait(find, f"rank {rank}'s process")


def _steps(run: Run) -> list[StepEvent]:
    return [e for _, e in run.events() if isinstance(e, StepEvent)]


def _set_max_steps(run: Run, steps: int, devices: str | None = None) -> None:
    raw = run.config().to_dict()
    raw["train"]["max_steps"] = steps
    if devices is not None:
        raw["train"]["devices"] = devices
    run.config_path.write_text(json.dumps(raw))


@pytest.mark.slow
def test_two_ranks_reach_ready_with_the_loss_of_one_process_with_the_same_global_batch(lines, tiny_model):
    run = start_run(_config(lines, tiny_model, "two"))
    assert _final(run) == "ready", run.status().reason
    _no_orphans(run)
    two = [e.loss for e in _steps(run)]
    assert len(two) == 4
    assert (run.adapter_dir / "adapter_model.safetensors").exists() and run.metrics() is not None
    # rank 0 alone wrote the run's files; each rank recorded how it ended
    assert [json.loads(rank_file(run, r).read_text())["state"] for r in (0, 1)] == ["ready", "ready"]
    assert sorted(p.name for p in (run.checkpoints_dir / "checkpoint-4").glob("rng_state_*.pth")) == ["rng_state_0.pth", "rng_state_1.pth"]

    from engine.train.finetune import fit, prepare

    alone = RunStore().create(_config(lines, tiny_model, "one", devices="1", batch_size=4))
    session = prepare(alone)
    assert fit(session, threading.Event()) == "ready"
    one = [e.loss for e in _steps(alone)]
    # same seed, data order and global batch (2 ranks x 2 = 1 x 4): only LoRA dropout draws differ per rank
    assert len(one) == 4
    assert max(abs(a - b) / b for a, b in zip(two, one, strict=True)) < 0.02, (two, one)
    assert abs(run.metrics().custom.loss - alone.metrics().custom.loss) / alone.metrics().custom.loss < 0.02


@pytest.mark.slow
def test_kill_of_rank_1_fails_naming_it_then_resume_cancel_and_resume_on_one_process(lines, tiny_model):
    run = start_run(_config(lines, tiny_model, "faults", max_steps=400, save_steps=1))
    _wait(lambda: any(isinstance(e, CheckpointEvent) for _, e in run.events()), "a checkpoint")
    os.kill(_rank_pid(run, 1), signal.SIGKILL)
    assert _final(run) == "failed"
    assert run.status().reason.startswith("rank 1 of 2 was killed (SIGKILL)"), run.status().reason
    _no_orphans(run)

    resume_run(run)  # the same N: two ranks again, from the last checkpoint
    before = len(_steps(run))
    _wait(lambda: len(_steps(run)) > before, "a step after resuming")
    _wait(lambda: refresh(run).state == "training" and run.last_checkpoint(), "a checkpoint")
    cancel(run)
    assert _final(run) == "cancelled", run.status().reason
    _no_orphans(run)
    saved = run.last_checkpoint()
    assert saved is not None
    assert [json.loads(rank_file(run, r).read_text())["state"] for r in (0, 1)] == ["cancelled", "cancelled"]

    step = int(saved.name.split("-")[1])
    _set_max_steps(run, step + 2, devices="1")  # another N: one process finishes what two began
    resume_run(run)
    assert _final(run) == "ready", run.status().reason
    _no_orphans(run)
    assert max(e.step for e in _steps(run)) == step + 2


def test_the_failing_rank_is_the_one_killed_not_the_one_whose_peer_went_away(tmp_path):
    run = Run(tmp_path)
    (tmp_path / "ranks").mkdir()
    peer = {"rank": 0, "node": "a", "state": "failed", "reason": "RuntimeError: Connection closed by peer [127.0.0.1]:29500", "time": 1.0}
    rank_file(run, 0).write_text(json.dumps(peer))
    two = Layout(devices=2)
    assert rank_failure(run, two, {0: (1, None), 1: (-9, "SIGKILL")}).startswith("rank 1 of 2 was killed (SIGKILL)")
    own = {"rank": 1, "node": "a", "state": "failed", "reason": "out of memory: try a smaller --batch-size", "time": 2.0}
    rank_file(run, 1).write_text(json.dumps(own))
    assert rank_failure(run, two, {0: (1, None), 1: (1, None)}) == "rank 1 of 2 failed: out of memory: try a smaller --batch-size"
    rank_file(run, 1).unlink()
    assert rank_failure(run, two, {0: (1, None)}).startswith("rank 0 of 2 failed: RuntimeError: Connection closed")
    # two nodes of one rank each, seen from node 0: rank 1 on the other machine left no file
    nodes = Layout(devices=1, nodes=2, main_address="10.0.0.1")
    said = rank_failure(run, nodes, {0: (1, None)})
    assert said.startswith("rank 1 of 2 (on another node) ended without saying why") and "Connection closed by peer" in said


def test_fsdp_qlora_settings(monkeypatch):
    """What an FSDP-QLoRA run is given on GPUs: 4-bit storage in the compute dtype, and accelerate's FSDP plugin settings.

    On the CPU FSDP can't run (``FSDP_CPU_LIMIT``): a run asking for it is DDP, and says why.
    """
    import torch
    from transformers import TrainingArguments

    from engine.models.load import quantization_config

    config = RunConfig("f", DataConfig("/x.txt"), train=TrainConfig(devices="2", strategy="fsdp"))
    if not torch.cuda.is_available():
        chosen, why = ranks.choose(config, 2)
        assert chosen == "ddp" and ranks.FSDP_CPU_LIMIT in why
    monkeypatch.setenv(ranks.STRATEGY_ENV, "fsdp")  # what the worker of a GPU machine hands its ranks
    assert ranks.strategy(config, 2) == "fsdp" and ranks.strategy(config, 1) == "single"
    args = ranks.trainer_arguments(config, 2)
    assert args["fsdp"] == "full_shard auto_wrap"
    assert args["fsdp_config"]["use_orig_params"] is False and args["fsdp_config"]["auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert args["fsdp_config"]["cpu_ram_efficient_loading"] is args["fsdp_config"]["sync_module_states"] is torch.cuda.is_available()
    made = TrainingArguments(output_dir="/tmp/unused", use_cpu=True, report_to="none", **args)
    assert made.fsdp_plugin_args["fsdp_version"] == 1 and made.fsdp_plugin_args["use_orig_params"] is False  # accelerate's plugin gets them
    assert not ranks.sharded(config)  # one process: nothing to shard
    monkeypatch.setenv("FINETUI_DISTRIBUTED", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert ranks.sharded(config)
    quant = quantization_config("4bit", torch.bfloat16, sharded=ranks.sharded(config))
    assert quant.bnb_4bit_quant_storage == torch.bfloat16 and quant.bnb_4bit_compute_dtype == torch.bfloat16
    assert quantization_config("4bit", torch.bfloat16).bnb_4bit_quant_storage == torch.uint8


def test_a_sharded_4bit_model_has_one_dtype_and_computes_the_same(tiny_model):
    """FSDP flattens a module's parameters into one tensor: with the storage dtype the compute dtype, every parameter has it."""
    import torch

    from engine.models.load import load_model

    plain = load_model(str(tiny_model), quant="4bit", device="cpu").model
    sharded = load_model(str(tiny_model), quant="4bit", device="cpu", sharded=True).model
    assert {p.dtype for p in plain.parameters()} == {torch.uint8, torch.float32}
    assert {p.dtype for p in sharded.parameters()} == {torch.float32}
    ids = torch.tensor([[1, 5, 9, 14, 3]])
    with torch.no_grad():
        assert torch.allclose(plain(ids).logits, sharded(ids).logits, atol=1e-5)


def test_devices_and_nodes_are_checked_and_reach_the_launcher():
    from engine.config import ConfigError

    with pytest.raises(ConfigError) as info:
        TrainConfig(devices="two")
    assert info.value.path == "train.devices"
    with pytest.raises(ConfigError) as info:
        TrainConfig(nodes=2)
    assert info.value.path == "train.main_address"
    config = RunConfig("m", DataConfig("/x.txt"), train=TrainConfig(devices="4", nodes=2, main_address="10.0.0.1", main_port=29400))
    where = distributed.layout(config, node_rank=1)
    assert where == Layout(devices=4, nodes=2, node_rank=1, main_address="10.0.0.1", main_port=29400) and where.processes == 8
    assert distributed.global_batch(config, where.processes) == config.train.batch_size * 8
    assert distributed.layout(RunConfig("a", DataConfig("/x.txt"), train=TrainConfig(devices="all"))).devices >= 1


def test_the_estimate_counts_steps_for_the_global_batch():
    from engine.estimate import TokenStats, estimate_run, model_facts, steps_per_epoch

    tokens = TokenStats(examples=100, total=64_000, p50=640, p90=700, max=800, seq_len=64, exact=True, trained=64_000)
    one = RunConfig("e", DataConfig("/x.txt"), train=TrainConfig(batch_size=4, epochs=1))
    two = RunConfig("e", DataConfig("/x.txt"), train=TrainConfig(batch_size=4, epochs=1, devices="2"))
    assert steps_per_epoch(one, tokens, 1.0) == 250 and steps_per_epoch(two, tokens, 1.0) == 125
    facts = model_facts("/nonexistent-model")
    estimate = estimate_run(two, tokens, 1.0, facts)
    assert (estimate.steps, estimate.processes, estimate.global_batch) == (125, 2, 8)
    assert estimate.train_tokens == estimate_run(one, tokens, 1.0, facts).train_tokens  # the same tokens, in half the steps


def test_another_node_joins_the_run_node_0_started_or_says_where_it_looked(monkeypatch):
    from engine.runs import lifecycle
    from engine.runs.lifecycle import RunStateError, join_run

    started: list[tuple[str, bool, int]] = []
    monkeypatch.setattr(lifecycle, "launch", lambda run, resume, node_rank: started.append((run.id, resume, node_rank)))
    with pytest.raises(RunStateError, match="no queued or training multi-node run named 'mn'.*storage every node sees"):
        join_run("mn", 1, wait_s=0)
    train = TrainConfig(devices="2", nodes=2, main_address="10.0.0.1")
    run = RunStore().create(RunConfig("mn", DataConfig("/x.txt"), train=train))
    assert join_run("mn", 1, wait_s=0) == run and started == [(run.id, True, 1)]
    with pytest.raises(RunStateError):
        join_run("mn", 2, wait_s=0)  # only nodes 0 and 1 belong to it
