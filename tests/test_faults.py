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

from engine.config import DataConfig, RunConfig, TrainConfig
from engine.runs import Run, RunStore
from engine.runs.events import EvalEvent, PhaseEvent, StatusEvent, event_from_json
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
        run.log("after the bad line")
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
        if kind == "full" and how == "tmpfs":
            assert "the disk is full" in str(refresh(stopped).reason)
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


# --- real workers: kills, races, a symlinked home, and a run trained through it all ---------------

TIMEOUT_S = 300


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_model import make_model

    return make_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    words = "the quick brown fox jumps over the lazy dog a journey of a thousand miles begins".split()
    pieces = [" ".join(words[(i * 3) % len(words) :] + words[: (i * 5) % len(words)]) + f" {i}" for i in range(60)]
    path = tmp_path_factory.mktemp("data") / "lines.txt"
    path.write_text("\n--SEP--\n".join(pieces))
    return path


def _train_args(data: Path, model: Path, *extra: str) -> list[str]:
    return ["train", str(data), "--separator", "--SEP--", "--model", str(model), "--quant", "none",
            "--lr", "5e-3", "--batch-size", "4", "--seq-len", "64", "--save-steps", "2", "--detach", *extra]


def finetui(*args: str, home: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``finetui ARGS`` as a user runs it, in its own process; its output must hold no traceback."""
    environ = {**os.environ, **(env or {})}
    if home is not None:
        environ["FINETUI_HOME"] = str(home)
    done = subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, env=environ, timeout=TIMEOUT_S)
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done


def _wait(predicate: Callable[[], object], what: str, timeout: float = TIMEOUT_S) -> object:
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _the_run(home: Path) -> Run:
    runs = RunStore(home / "runs").list()
    assert len(runs) == 1, runs
    return runs[0]


def _phase_reached(run: Run, phase: str) -> bool:
    return any(isinstance(e, PhaseEvent) and e.phase == phase for _, e in run.events())


def _final(run: Run) -> str:
    return str(_wait(lambda: (s := refresh(run).state) not in ("queued", "training") and s, f"{run.id} to end"))


def _workers(run: Run) -> list[int]:
    """Live worker processes of this run, found by their command line (for the test only)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if "engine.train.worker" in cmd and any(Path(arg).name == run.id for arg in cmd):
            found.append(proc.pid)
    return found


def _check_scorecard(run: Run, steps: int) -> dict:
    """The ready run's scorecard is whole, finite, and agrees with its own events."""
    metrics = strict_json(run.metrics_path.read_text())
    assert isinstance(metrics, dict)
    evals = {e.which: e for _, e in run.events() if isinstance(e, EvalEvent)}
    for which in ("baseline", "custom"):
        assert metrics[which]["tokens"] > 0 and metrics[which]["loss"] == evals[which].figures.loss
    assert metrics["change"]["loss"] == pytest.approx(metrics["custom"]["loss"] - metrics["baseline"]["loss"])
    # A run resumed from its last checkpoint gets one more step from transformers 5's resume (at lr 0: no change).
    assert metrics["train"]["steps"] in (steps, steps + 1)
    assert (run.adapter_dir / "adapter_model.safetensors").is_file() and not list(run.adapter_dir.glob("*.bin"))
    return metrics


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["loading", "baseline", "training", "custom", "saving"])
def test_kill_9_at_each_phase_reads_failed_and_resumes_to_ready(finetui_home, lines, tiny_model, phase):
    done = finetui(*_train_args(lines, tiny_model, "--max-steps", "4"), env={"FINETUI_TEST_PAUSE_AT": phase})
    assert done.returncode == 0, done.stderr
    run = _the_run(finetui_home)
    _wait(lambda: _phase_reached(run, phase), f"phase {phase}")
    [pid] = _workers(run)
    written = run.status_path.read_bytes()
    os.kill(pid, 9)
    _wait(lambda: refresh(run).state == "failed", "the kill to be seen")
    shown = finetui("show", run.id, "--json", home=finetui_home)
    assert shown.returncode == 0 and strict_json(shown.stdout)["status"]["reason"].startswith("interrupted")  # type: ignore[index]
    assert run.status_path.read_bytes() == written  # seen as failed by reading alone
    assert not run.adapter_dir.exists() and not run.metrics_path.exists()  # nothing half-made looks whole
    if phase in ("training", "saving"):
        resumed = finetui("resume", run.id, home=finetui_home)
        assert resumed.returncode == 0, resumed.stderr
        assert _final(run) == "ready"
        _check_scorecard(run, steps=4)


@pytest.mark.slow
def test_concurrent_resumes_start_one_worker_and_cancel_stops_it(finetui_home, lines, tiny_model):
    done = finetui(*_train_args(lines, tiny_model, "--max-steps", "400"))
    run = _the_run(finetui_home)
    _wait(lambda: _phase_reached(run, "training"), "training")
    assert finetui("cancel", run.id, home=finetui_home).returncode == 0
    assert _final(run) == "cancelled"
    procs = [subprocess.Popen([sys.executable, "-m", "tui.cli", "resume", run.id], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    results = [(p.wait(timeout=TIMEOUT_S), *p.communicate()) for p in procs]
    assert all("Traceback" not in out + err for _, out, err in results)
    assert sorted(code for code, _, _ in results) == [0, 2, 2, 2], results  # one resumed; three were refused
    _wait(lambda: _phase_reached(run, "training") and refresh(run).state == "training", "the resumed run to train")
    time.sleep(2)  # any second worker would be up by now
    assert len(_workers(run)) == 1
    assert finetui("cancel", run.id, home=finetui_home).returncode == 0
    assert _final(run) == "cancelled"
    time.sleep(3)
    assert refresh(run).state == "cancelled" and _workers(run) == []  # no other worker trains it on
    assert done.returncode == 0


@pytest.mark.slow
def test_a_symlinked_home_sees_the_same_live_run(finetui_home, lines, tiny_model, tmp_path):
    finetui_home.mkdir(parents=True, exist_ok=True)
    link = tmp_path / "ft-link"
    link.symlink_to(finetui_home)
    assert finetui(*_train_args(lines, tiny_model, "--max-steps", "400"), home=link).returncode == 0
    run = _the_run(finetui_home)
    _wait(lambda: _phase_reached(run, "training"), "training")
    for home in (finetui_home, link):
        listed = finetui("runs", "--json", home=home)
        assert [row["state"] for row in strict_json(listed.stdout)] == ["training"]  # type: ignore[union-attr]
        removed = finetui("rm", run.id, home=home)
        assert removed.returncode == 2 and "cancel it first" in removed.stderr and run.dir.is_dir()
    cancelled = finetui("cancel", run.id, home=finetui_home)
    assert cancelled.returncode == 0 and "asked the training process to stop" in cancelled.stdout
    assert _final(run) == "cancelled"
    assert finetui("rm", run.id, home=link).returncode == 0 and not run.dir.exists()


@pytest.mark.slow
def test_a_run_reaches_ready_with_its_scorecard_while_chaos_runs_beside_it(finetui_home, lines, tiny_model, capsys):
    """Must-show 3: the suite's chaos next to a live run in the same home leaves it untouched."""
    steps = 24
    assert finetui(*_train_args(lines, tiny_model, "--max-steps", str(steps), "--name", "steady")).returncode == 0
    steady = _the_run(finetui_home)
    store = RunStore(finetui_home / "runs")
    _wait(lambda: _phase_reached(steady, "baseline"), "the steady run to load")

    # broken neighbours of every kind, read by every command, then removed
    for n, (which, how) in enumerate([("status", "garbage"), ("config", "deleted"), ("events", "a folder"), ("metrics", "truncated")]):
        victim = ready_run(store, f"victim{n}")
        _damage(FILES[which](victim), how)
        for args in (("runs",), ("runs", "--json"), ("show", victim.id), ("logs", victim.id), ("show", "steady")):
            code, _, err = cli(capsys, *args)
            assert code == 0, err
        code, _, err = cli(capsys, "rm", victim.id)
        assert code == 0, err
    (store.root / "stray").mkdir()
    code, _, _ = cli(capsys, "rm", "stray")
    assert code == 0
    # empty references and hostile commands aimed at the live run
    for args in (("rm", ""), ("cancel", " "), ("resume", steady.id), ("rm", steady.id), ("resume", "")):
        code, _, err = cli(capsys, *args)
        one_line_error(code, err, args[0])
    # a second run queued behind it, resumed four times at once after a cancel, then removed
    assert finetui(*_train_args(lines, tiny_model, "--max-steps", "2", "--name", "other")).returncode == 0
    other = store.get("other")
    assert finetui("cancel", other.id).returncode == 0
    assert _final(other) == "cancelled"
    procs = [subprocess.Popen([sys.executable, "-m", "tui.cli", "resume", other.id], stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    assert sorted(p.wait(timeout=TIMEOUT_S) for p in procs) == [0, 2, 2, 2]
    assert finetui("cancel", other.id).returncode == 0
    assert _final(other) == "cancelled"
    assert finetui("rm", other.id).returncode == 0

    assert _final(steady) == "ready", steady.log_path.read_text()[-2000:]
    metrics = _check_scorecard(steady, steps=steps)
    assert metrics["custom"]["loss"] < metrics["baseline"]["loss"]  # it learned: lr 5e-3 on repeated lines
    assert [r.id for r in store.list()] == [steady.id]


# --- numbers typed into the TUI --------------------------------------------------------------------

#: Values past every bound a field has: each must be shown on its field, never raised.
TYPED = ["1e308", "inf", "-inf", "nan", "1e400", "-1", "99999999999999999999999", "0", "1e-400"]


async def test_every_typed_number_is_bounded_on_its_field(monkeypatch):
    """Typing 1e308 into Epochs crashed the whole app; every field now refuses out-of-range values in words."""
    from textual.widgets import Button, Input

    from tests.test_tui_train import HAIKU, open_train
    from tui.app import FinetuiApp
    from tui.screens.train import GRID, field_id

    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    app = FinetuiApp(start_path=HAIKU)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_train(pilot)
        for field in [field_id(s) for s in GRID if s.kind in (int, float)]:  # every number field, as engine.config declares them
            box = screen.query_one(f"#{field}", Input)
            kept = box.value
            for value in TYPED:
                box.value = value
                await pilot.pause()
                if screen.config is None:  # refused: said in words, Launch off
                    assert screen.problem and screen.query_one("#launch", Button).disabled
            box.value = kept
            await pilot.pause()
        assert app.is_running and screen.config is not None
