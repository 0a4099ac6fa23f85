"""The training process: ``python -m engine.train.worker RUN_DIR [--resume]``.

Started detached by ``engine.runs.process.launch``. It waits its turn in the
queue, trains, and always leaves a final status: ready, cancelled, or failed
with a reason in plain words. SIGTERM (``finetui cancel``) saves a checkpoint
and ends the run as cancelled.
"""

from __future__ import annotations

import argparse
import errno
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from engine.data import DataError
from engine.runs import Run, RunStore
from engine.runs.process import claim, wait_for_turn


def _reason(exc: BaseException) -> str:
    """A failure as a user should read it."""
    from engine.models.errors import ModelError
    from engine.train.callback import TrainingFailed

    if isinstance(exc, (TrainingFailed, DataError, ModelError)):
        return str(exc)
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return "out of memory: try a smaller --batch-size or --seq-len, or 4-bit quantization (--quant 4bit)"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"the disk is full ({exc.filename or 'writing checkpoints'}): free some space, then `finetui resume`"
    return f"{type(exc).__name__}: {exc}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="engine.train.worker")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    run = Run(args.run_dir.resolve())
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())

    if claim(run) is None:
        return 0  # cancelled before this process started: leave it so
    lock = wait_for_turn(run, RunStore(run.dir.parent), stop.is_set)
    if lock is None:
        run.write_status(run.status().moved("cancelled", reason="cancelled while queued"))
        run.event("status", state="cancelled")
        return 0
    with lock:
        run.write_status(run.status().moved("training", started_at=time.time()))
        run.event("status", state="training")
        try:
            from engine.train.finetune import fine_tune

            final = fine_tune(run, stop, resume=args.resume)
        except BaseException as exc:  # every failure must end in a status, never "training" forever
            traceback.print_exc()
            reason = _reason(exc)
            run.write_status(run.status().moved("failed", reason=reason))
            run.event("status", state="failed", reason=reason)
            return 1
        run.write_status(run.status().moved(final, reason=None))
        run.event("status", state=final)
    return 0


if __name__ == "__main__":
    sys.exit(main())
