"""The training process: ``python -m engine.train.worker RUN_DIR [--resume]``.

Started detached by ``engine.runs.process.launch``. It waits its turn in the
queue, trains, and always leaves a final status: ready, cancelled, or failed
with a reason in plain words. SIGTERM (``finetui cancel``) saves a checkpoint
and ends the run as cancelled.

It holds the run's ``worker.lock`` for its whole life: that lock is how
readers know the run has a live worker, and a second worker started for the
same run (two ``resume`` at once) finds it taken and leaves without a word.

With several devices or nodes it launches the ranks and waits for them
(``engine.train.distributed``); on the other machines of a multi-node run
(``--node-rank``) it only launches that node's ranks and writes no status.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from engine.files import holding
from engine.runs import Run, RunStore
from engine.runs.events import StatusEvent
from engine.runs.process import claim, wait_for_turn
from engine.train.failure import failure_reason


def _early_stop(run: Run) -> str | None:
    """Why a ready run stopped before its last step (``--early-stop``), from its scorecard; None when it ran to the end."""
    try:
        metrics = run.metrics()
    except (OSError, ValueError):
        return None
    return metrics.train.stop_reason if metrics else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="engine.train.worker")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--node-rank", type=int, default=0, help="on another machine of a multi-node run: its node rank")
    args = parser.parse_args(argv)
    run = Run(args.run_dir.resolve())
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    if not run.dir.is_dir():
        print(f"run folder {run.dir} no longer exists", file=sys.stderr)
        return 1
    if args.node_rank:
        from engine.train.distributed import join

        return join(run, stop, args.resume, args.node_rank)
    with holding(run.worker_lock_path) as owner:
        if not owner:
            return 0  # another worker has this run: it is the only one that may write to it
        return _work(run, stop, args.resume)


def _end(run: Run, state: str, reason: str | None) -> None:
    """Log the run's final state, then write it as its status.

    In that order, whoever sees the final status (a waiting test, the run
    page) finds the whole log. The status is written even when the log line
    can't be (a full disk), so the run never reads as training.
    """
    try:
        run.append(StatusEvent(state=state, reason=reason))
    finally:
        run.write_status(run.status().moved(state, reason=reason))


def _work(run: Run, stop: threading.Event, resume: bool) -> int:
    """Queue, train and record the outcome; called while holding the run's worker lock."""
    if claim(run) is None:
        return 0  # cancelled before this process started: leave it so
    lock = wait_for_turn(run, RunStore(run.dir.parent), stop.is_set)
    if lock is None:
        _end(run, "cancelled", "cancelled while queued")
        return 0
    with lock:
        run.append(StatusEvent(state="training"))
        run.write_status(run.status().moved("training", started_at=time.time()))
        try:
            from engine.train.distributed import train

            final = train(run, stop, resume)  # in this process, or launched on the run's devices and nodes
        except BaseException as exc:  # every failure must end in a status, never "training" forever
            traceback.print_exc()
            reason = failure_reason(exc)
            _end(run, "failed", reason)
            return 1
        reason = _early_stop(run) if final == "ready" else None
        _end(run, final, reason)
    return 0


if __name__ == "__main__":
    sys.exit(main())
