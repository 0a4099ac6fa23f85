"""Run folders written by hand, as a finished worker leaves them, and the checks every fault test makes.

The fault tests (tests/test_faults_*.py) damage these folders file by file
and call the CLI in this process: an exception escaping it is a traceback,
and a command that should only read must leave every byte as it was.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import pytest

from engine.config import DataConfig, RunConfig, TrainConfig
from engine.runs import Run, RunStore
from engine.runs.events import StatusEvent, event_from_json
from tui.cli import main as cli_main


def _safetensors(path: Path) -> None:
    """A valid one-tensor safetensors file (4 float32 zeros)."""
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 16)


def ready_run(store: RunStore, name: str) -> Run:
    """A ready run's folder with every kind of file a worker leaves: status, config, events, scorecard,
    process log, worker lock, a checkpoint and the adapter."""
    config = RunConfig(name, DataConfig("/data/haiku.txt", separator="--SEP--"), train=TrainConfig(max_steps=2))
    run = store.create(config)
    now = time.time()
    run.write_status(run.status().moved("training", started_at=now, pid=12345))
    for kind, data in (
        ("phase", {"phase": "loading"}),
        ("eval", {"which": "baseline", "loss": 2.5, "accuracy": 0.25, "tokens": 100}),
        ("step", {"step": 1, "max_steps": 2, "loss": 2.4, "elapsed_s": 1.0, "progress": 0.5, "eta_s": 1.0}),
        ("step", {"step": 2, "max_steps": 2, "loss": 2.2, "elapsed_s": 2.0, "progress": 1.0, "eta_s": 0.0}),
        ("checkpoint", {"step": 2, "path": "checkpoints/checkpoint-2"}),
        ("eval", {"which": "custom", "loss": 2.0, "accuracy": 0.4, "tokens": 100}),
    ):
        run.append(event_from_json({"time": time.time(), "kind": kind, **data}))
    metrics = {
        "baseline": {"loss": 2.5, "accuracy": 0.25, "tokens": 100},
        "custom": {"loss": 2.0, "accuracy": 0.4, "tokens": 100},
        "change": {"loss": -0.5, "accuracy_points": 15.0},
        "train": {"loss_curve": [[1, 2.4], [2, 2.2]], "steps": 2, "tokens": 256, "wall_time_s": 5.0, "train_time_s": 2.0,
                  "tokens_per_s": 128.0, "peak_memory_bytes": 2**20, "device": "cpu", "train_examples": 9, "eval_examples": 1},
    }
    run.metrics_path.write_text(json.dumps(metrics))
    run.log_path.write_text("training output\n")
    run.worker_lock_path.touch()
    checkpoint = run.checkpoints_dir / "checkpoint-2"
    checkpoint.mkdir(parents=True)
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": 2}))
    run.adapter_dir.mkdir()
    (run.adapter_dir / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4}))
    _safetensors(run.adapter_dir / "adapter_model.safetensors")
    run.write_status(run.status().moved("ready", reason=None))
    run.append(StatusEvent(state="ready"))
    return run


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file under ``root`` with its bytes (None for a folder): what a read must leave as it was."""
    out: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        if path.name == ".status.lock":
            continue  # the status lock is a write command's, made on first use
        out[str(path.relative_to(root))] = None if path.is_dir() else path.read_bytes()
    return out


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``finetui ARGS`` in this process: an escaping exception fails the test (that is a traceback)."""
    capsys.readouterr()
    code = cli_main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def strict_json(text: str) -> object:
    """Parse as strict JSON parsers do: NaN and Infinity are errors."""

    def refuse(name: str) -> None:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def one_line_error(code: int, err: str, command: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"finetui {command}: error: "), err



#: Every file a run folder holds, by how it is found from the run.
FILES = {
    "status": lambda run: run.status_path,
    "config": lambda run: run.config_path,
    "events": lambda run: run.events_path,
    "metrics": lambda run: run.metrics_path,
    "process log": lambda run: run.log_path,
    "worker lock": lambda run: run.worker_lock_path,
    "checkpoint state": lambda run: run.checkpoints_dir / "checkpoint-2" / "trainer_state.json",
    "adapter config": lambda run: run.adapter_dir / "adapter_config.json",
    "adapter weights": lambda run: run.adapter_dir / "adapter_model.safetensors",
}


def damage(path: Path, how: str) -> None:
    data = path.read_bytes() if path.is_file() else b""
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: max(1, len(data) // 2)])
    elif how == "garbage":
        path.write_bytes(b"\xff\xfe\x00garbage\n[1, 2\n")
    elif how == "not an object":
        path.write_bytes(b"[1, 2, 3]\n")
    elif how == "deleted":
        path.unlink()
    elif how == "a folder":
        path.unlink()
        path.mkdir()

