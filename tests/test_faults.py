"""Fault injection: the run store under broken files, read-only and full homes, races, kills and symlinks.

Every case checks three things: no traceback (an exception escaping the CLI
fails the test; subprocesses' output is searched for one), every command's
exit code, and the run folders afterwards (nothing the user had is lost or
changed by a command that should only read).

The fast cases build run folders by hand, as a finished worker leaves them,
and call the CLI in this process. The slow ones train a tiny model for real.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from engine.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from engine.runs import Run, RunStore
from engine.runs.process import refresh
from engine.runs.status import Status
from tui.cli import main as cli_main

# --- a finished run, written by hand -----------------------------------------------------------


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
        run.event(kind, **data)
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
    run.event("status", state="ready")
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


@pytest.fixture
def store(finetui_home: Path) -> RunStore:
    return RunStore(finetui_home / "runs")


# --- broken and truncated run files ------------------------------------------------------------

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


def _damage(path: Path, how: str) -> None:
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


@pytest.mark.parametrize("how", ["empty", "truncated", "garbage", "not an object", "deleted", "a folder"])
@pytest.mark.parametrize("which", sorted(FILES))
def test_a_damaged_run_file_never_breaks_a_command(store, capsys, which, how):
    other = ready_run(store, "other")
    run = ready_run(store, "victim")
    _damage(FILES[which](run), how)
    other_before = snapshot(other.dir)
    victim_before = snapshot(run.dir)

    code, out, _ = cli(capsys, "runs")
    assert code == 0 and run.id in out and other.id in out
    code, out, _ = cli(capsys, "runs", "--json")
    rows = {row["id"]: row for row in strict_json(out)}  # type: ignore[union-attr]
    assert code == 0 and rows[other.id]["state"] == "ready"
    if which in ("status", "config"):
        assert rows[run.id]["state"] == "broken" and rows[run.id]["reason"]
    for args in (("show", run.id), ("show", run.id, "--json"), ("logs", run.id), ("show", other.id)):
        code, out, err = cli(capsys, *args)
        assert code == 0, err
        if "--json" in args:
            strict_json(out)
    code, _, err = cli(capsys, "cancel", run.id)
    one_line_error(code, err, "cancel")
    code, _, err = cli(capsys, "resume", run.id)
    one_line_error(code, err, "resume")  # ready or broken: nothing to resume
    assert snapshot(run.dir) == victim_before and snapshot(other.dir) == other_before  # reads never write

    code, out, err = cli(capsys, "rm", run.id)
    assert code == 0, err
    assert not run.dir.exists() and [r.id for r in store.list()] == [other.id]
    assert snapshot(other.dir) == other_before


@pytest.mark.parametrize(
    "line",
    [b"[1, 2]\n", b"\xff\xfe\xfd\n", b'{"kind": "step"}\n', b'{"kind": "eval", "which": "custom"}\n', b'{"time": "noon"}\n',
     b'{"kind": "step", "step": 3, "loss": "high"}\n', b"NaN\n", b'{"kind": "status"'],
)
def test_a_bad_event_line_is_skipped_or_flagged_and_the_log_goes_on(store, capsys, line):
    run = ready_run(store, "haiku")
    with run.events_path.open("ab") as fh:
        fh.write(line)
    if line.endswith(b"\n"):
        run.event("log", level="info", message="after the bad line")
    code, out, _ = cli(capsys, "logs", run.id)
    assert code == 0 and "status: ready" in out
    if line.endswith(b"\n"):
        assert out.strip().endswith("after the bad line")


# --- references ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["rm", "show", "logs", "cancel", "resume"])
@pytest.mark.parametrize("ref", ["", "  "])
def test_an_empty_reference_is_refused_by_every_command(store, capsys, command, ref):
    run = ready_run(store, "haiku")
    before = snapshot(store.root)
    code, _, err = cli(capsys, command, ref)
    one_line_error(code, err, command)
    assert "no run given" in err and snapshot(store.root) == before and run.dir.is_dir()


def test_rm_by_an_ambiguous_prefix_lists_the_runs_and_removes_none(store, capsys):
    a, b = ready_run(store, "one"), ready_run(store, "two")
    code, _, err = cli(capsys, "rm", a.id[:8])
    one_line_error(code, err, "rm")
    assert a.id in err and b.id in err and a.dir.is_dir() and b.dir.is_dir()


# --- read-only and full homes --------------------------------------------------------------------


@contextmanager
def _tmpfs(size: str) -> Iterator[Path]:
    """A fresh tmpfs of ``size``, or a skip when this machine can't mount one (not root, no CAP_SYS_ADMIN)."""
    where = Path(tempfile.mkdtemp(prefix="finetui-tmpfs-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        where.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip() or 'mount failed'}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
        shutil.rmtree(where, ignore_errors=True)


def _inject(monkeypatch: pytest.MonkeyPatch, root: Path, code: int) -> None:
    """Make every write under ``root`` fail with ``code`` (EROFS, ENOSPC), as the kernel would.

    For machines where a tmpfs can't be mounted, and for root, whom file
    modes don't stop. Reads go through untouched.
    """
    prefix = str(root)

    def under(path: object) -> bool:
        return isinstance(path, str | os.PathLike) and os.path.abspath(os.fspath(path)).startswith(prefix)

    def fail(path: object) -> None:
        raise OSError(code, os.strerror(code), os.fspath(path))  # type: ignore[arg-type]

    real_open, real_io_open = os.open, io.open
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def os_open(path, flags, *args, **kwargs):
        if flags & writing and under(path):
            fail(path)
        return real_open(path, flags, *args, **kwargs)

    def io_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and under(file):
            fail(file)
        return real_io_open(file, mode, *args, **kwargs)

    def two_paths(real: Callable) -> Callable:
        def call(src, dst, *args, **kwargs):
            if under(src) or under(dst):
                fail(src)
            return real(src, dst, *args, **kwargs)

        return call

    def one_path(real: Callable) -> Callable:
        def call(path, *args, **kwargs):
            if under(path):
                fail(path)
            return real(path, *args, **kwargs)

        return call

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(io, "open", io_open)
    monkeypatch.setattr("builtins.open", io_open)
    monkeypatch.setattr(os, "mkdir", one_path(os.mkdir))
    if code == errno.ENOSPC:
        return  # a full disk still renames and deletes: that needs no space, or frees some
    for name in ("rename", "replace"):
        monkeypatch.setattr(os, name, two_paths(getattr(os, name)))
    for name in ("unlink", "rmdir", "remove"):
        monkeypatch.setattr(os, name, one_path(getattr(os, name)))


def _hostile_home(kind: str, how: str, finetui_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A home to fill with runs (first ``next``), then turned read-only or full (second ``next``).

    By a real tmpfs where this machine can mount one, else by injected errors.
    """
    if how == "tmpfs":
        with _tmpfs("4m") as mount:
            home = mount / "home"
            monkeypatch.setenv("FINETUI_HOME", str(home))
            yield home
            if kind == "read-only":
                done = subprocess.run(["mount", "-o", "remount,ro", str(mount)], capture_output=True)
                assert done.returncode == 0, done.stderr
            else:
                with (mount / "filler").open("wb", buffering=0) as fh:
                    try:
                        while True:
                            fh.write(b"\0" * 4096)
                    except OSError as exc:
                        assert exc.errno == errno.ENOSPC
            yield home
    else:
        yield finetui_home
        _inject(monkeypatch, finetui_home, errno.EROFS if kind == "read-only" else errno.ENOSPC)
        yield finetui_home


@pytest.mark.parametrize("how", ["tmpfs", "injected"])
@pytest.mark.parametrize("kind", ["read-only", "full"])
def test_a_read_only_or_full_home_gives_one_line_errors_and_loses_nothing(capsys, monkeypatch, finetui_home, kind, how, tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("\n--SEP--\n".join(f"example number {i} of a small data file" for i in range(20)))
    hostile = _hostile_home(kind, how, finetui_home, monkeypatch)
    try:
        home = next(hostile)
        store = RunStore(home / "runs")
        ready, stopped = ready_run(store, "ready"), ready_run(store, "stopped")
        stopped.write_status(Status.from_dict({**stopped.status().to_dict(), "state": "training", "updated_at": 0.0}))
        next(hostile)  # now read-only, or full
        before = snapshot(home)

        code, out, _ = cli(capsys, "runs")
        assert code == 0 and ready.id in out and "failed" in out  # the dead worker reads as failed, unwritten
        for args in (("show", ready.id), ("show", stopped.id, "--json"), ("logs", ready.id)):
            code, _, err = cli(capsys, *args)
            assert code == 0, err
        code, _, err = cli(capsys, "train", str(data), "--separator", "--SEP--", "--max-steps", "2", "--detach")
        one_line_error(code, err, "train")
        code, _, err = cli(capsys, "resume", stopped.id)
        one_line_error(code, err, "resume")
        code, _, err = cli(capsys, "cancel", stopped.id)
        one_line_error(code, err, "cancel")  # its worker is gone: it is failed, not cancellable
        assert snapshot(home) == before
        code, _, err = cli(capsys, "rm", ready.id)
        if kind == "read-only":
            one_line_error(code, err, "rm")
            assert snapshot(home) == before
        else:  # renaming needs no space, and deleting frees some
            assert code == 0, err
            assert not ready.dir.exists()
        assert snapshot(stopped.dir) == {k.split("/", 2)[-1]: v for k, v in before.items() if k.startswith(f"runs/{stopped.id}/")}
        assert refresh(stopped).state == "failed"
    finally:
        hostile.close()
