"""Training processes: start them detached, tell whether they live, queue and cancel them.

Each run trains in its own process, started in a new session so that it
survives the TUI closing and the SSH connection dropping. One run trains at
a time per machine: the others wait, queued, for an exclusive ``flock`` on
``$FINETUI_HOME/train.lock``, oldest first. The kernel drops the lock when its
holder dies, however it dies, so a crash never blocks the queue.

A run's worker holds an exclusive ``flock`` on the run's ``worker.lock`` for
its whole life. That lock is how everyone tells whether a run has a live
worker: not a pid (reused) nor a command line (a path spelled through a
symlink differs). The kernel drops it however the worker dies, and a second
worker for the same run (two ``resume`` at once) can't take it and leaves.

A run's status changes hands between processes: the worker records its pid
when it starts, and ``cancel`` may mark the run cancelled before that. Both
read and rewrite ``status.json`` under the run's own ``flock``, so a cancel
that comes before the worker's first word is never overwritten by it.

Reading never writes: a run whose worker is gone reads as failed
(interrupted) from its lock, and ``status.json`` keeps what the worker last
wrote until someone acts on the run (resume, cancel, rm).
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import IO

from engine.cpu_share import TRAIN_LOCK
from engine.files import held_by_someone, locked_folder
from engine.paths import home
from engine.runs.events import StatusEvent
from engine.runs.status import ACTIVE, BROKEN, Status
from engine.runs.store import Run, RunStore

#: A queued run with no process yet is given this long to start one.
START_GRACE_S = 60.0
INTERRUPTED = "interrupted: the training process ended without saying why (killed, crashed, or the machine restarted)"
DISK_FULL = "interrupted: the disk is full, which likely stopped it before it could say why; free some space, then `finetui resume`"


def launch(run: Run, resume: bool = False, node_rank: int = 0) -> int:
    """Start the run's training process, detached; returns its pid.

    It leads a process group of its own (a new session): a distributed run's
    ranks, which it launches (``engine.train.distributed``), are in that group
    too, and die with it. ``node_rank`` above 0: this machine's part of a
    multi-node run that node 0 started, logging to ``process-nodeR.log``.
    """
    args = [sys.executable, "-m", "engine.train.worker", str(run.dir)]
    if resume:
        args.append("--resume")
    if node_rank:
        args += ["--node-rank", str(node_rank)]
    log_path = run.log_path.with_name(f"process-node{node_rank}.log") if node_rank else run.log_path
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    return proc.pid


def is_alive(run: Run) -> bool:
    """Whether a live process is the run's worker: it holds ``worker.lock`` (read-only probe)."""
    return held_by_someone(run.worker_lock_path)


def refresh(run: Run) -> Status:
    """The run's status as a reader should show it; never writes.

    A queued or training run whose worker is gone reads as ``failed``
    (interrupted); a queued one gets ``START_GRACE_S`` for its worker to
    start. A finished run whose ``config.json`` is unusable reads as
    ``broken``. Raises ``FileNotFoundError`` only if the run folder is gone.
    """
    status = run.status()
    if status.state == BROKEN:
        return status
    if status.state in ACTIVE:
        if is_alive(run):
            return status
        if status.pid is None and time.time() - status.updated_at < START_GRACE_S:
            return status
        latest = run.status()  # the worker may have written its last state just now
        if latest.state not in ACTIVE:
            return refresh(run)
        reason = DISK_FULL if _disk_full(run) else INTERRUPTED
        return status.moved("failed", reason=reason, ended_at=status.updated_at)
    problem = run.config_problem()
    if problem is not None:
        return Status(state=BROKEN, created_at=status.created_at, updated_at=status.updated_at, reason=problem)
    return status


def _disk_full(run: Run) -> bool:
    """Whether the run's disk has no space left: then the worker could not even record why it stopped."""
    try:
        stats = os.statvfs(run.dir)
    except OSError:
        return False
    return stats.f_bavail == 0


def status_lock(run: Run) -> AbstractContextManager[None]:
    """The run's own lock, held while reading and rewriting its status (see the module's docstring)."""
    return locked_folder(run.dir)


def claim(run: Run) -> Status | None:
    """Record this process as the run's worker; None if the run was cancelled before it got here."""
    with status_lock(run):
        status = run.status()
        if status.state != "queued":
            return None
        status = status.moved("queued", pid=os.getpid(), reason=None)
        run.write_status(status)
        return status


def cancel(run: Run) -> Status:
    """Ask the run's process to stop: it saves a checkpoint and marks itself cancelled.

    A run whose process is gone, or has not started yet, is marked cancelled
    here; a worker that starts after that sees it and does nothing.
    """
    with status_lock(run):
        status = refresh(run)
        if status.state not in ACTIVE:
            return status
        if status.pid is not None and is_alive(run):
            try:
                os.kill(status.pid, signal.SIGTERM)
                return status
            except ProcessLookupError:
                pass  # it died just now: mark it below
        status = status.moved("cancelled", reason="cancelled before it started")
        try:
            run.append(StatusEvent(state="cancelled"))  # the log first: whoever sees the status finds it (see engine.train.worker._end)
        finally:
            run.write_status(status)
        return status


def wait_until_stopped(run: Run, timeout: float | None, poll_s: float = 0.2) -> Status | None:
    """Block until the run is neither queued nor training and its worker has let go of it; None after ``timeout`` s.

    A cancel only asks: the worker saves a checkpoint first, which takes
    from a moment to minutes. Waiting for the lock as well as the status
    means a ``resume`` right after this returns finds nothing still ending.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        status = refresh(run)
        if status.state not in ACTIVE and not is_alive(run):
            return status
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(poll_s)


def wait_for_turn(run: Run, store: RunStore, should_stop: Callable[[], bool], poll_s: float = 0.5) -> IO[str] | None:
    """Block until this run holds the machine's training lock; returns the open lock file.

    Queued runs take turns oldest first. Returns None if ``should_stop()``
    turned true while waiting (the run was cancelled in the queue).
    """
    lock_path = home() / TRAIN_LOCK
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = lock_path.open("a")
    while not should_stop():
        if _first_in_line(run, store):
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return lock
            except BlockingIOError:
                pass
        time.sleep(poll_s)
    lock.close()
    return None


def _first_in_line(run: Run, store: RunStore) -> bool:
    """Whether no older run is still waiting in the queue.

    An older run counts as waiting while its process lives, and also while it
    is only just starting (no pid yet): two runs started back to back must not
    overtake each other.
    """
    for other in store.list():
        if other.dir == run.dir:
            return True
        if refresh(other).state == "queued":
            return False
    return True

