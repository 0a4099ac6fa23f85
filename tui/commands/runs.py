"""``finetui runs|show|logs|cancel|resume|rm``: look after training runs."""

from __future__ import annotations

import argparse
import json
from datetime import datetime

from engine.runs import Run, RunNotFound, RunStore
from engine.runs.lifecycle import RunStateError, remove_run, resume_run
from engine.runs.process import cancel, refresh
from tui.commands.runview import duration, error, follow, format_event, format_scorecard, progress_cells, tail


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("runs", help="list training runs with status, progress and ETA")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=list_runs)

    p = subparsers.add_parser("show", help="a run's config, status and scorecard")
    p.add_argument("run", help="run id, unique id prefix, or name")
    p.add_argument("--json", action="store_true", help="print config, status and metrics as JSON")
    p.set_defaults(func=show)

    p = subparsers.add_parser("logs", help="a run's log: steps, evals, checkpoints, status changes")
    p.add_argument("run", help="run id, unique id prefix, or name")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing until the run ends (Ctrl-C stops following only)")
    p.set_defaults(func=logs)

    p = subparsers.add_parser("cancel", help="stop a queued or training run (it saves a checkpoint first)")
    p.add_argument("run", help="run id, unique id prefix, or name")
    p.set_defaults(func=cancel_run)

    p = subparsers.add_parser("resume", help="continue a failed or cancelled run from its last checkpoint")
    p.add_argument("run", help="run id, unique id prefix, or name")
    p.set_defaults(func=resume)

    p = subparsers.add_parser("rm", help="delete a run that is not queued or training")
    p.add_argument("run", help="run id, unique id prefix, or name")
    p.set_defaults(func=remove)


def _find(args: argparse.Namespace) -> Run:
    return RunStore().get(args.run)


def _summary(run: Run) -> dict:
    status = refresh(run)
    config = run.config()
    progress, eta = progress_cells(run, status.state)
    return {
        "id": run.id,
        "name": config.name,
        "state": status.state,
        "progress": progress,
        "eta": eta,
        "model": config.model.name,
        "data": config.data.path,
        "created_at": status.created_at,
        "reason": status.reason,
        "dir": str(run.dir),
    }


def list_runs(args: argparse.Namespace) -> int:
    rows = [_summary(r) for r in RunStore().list()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no runs yet: start one with `finetui train DATA`")
        return 0
    print(f"{'RUN':<34} {'STATUS':<10} {'PROGRESS':>8} {'ETA':>8}  {'MODEL':<16} CREATED")
    for r in rows:
        created = datetime.fromtimestamp(r["created_at"]).strftime("%Y-%m-%d %H:%M")
        print(f"{r['id']:<34} {r['state']:<10} {r['progress']:>8} {r['eta']:>8}  {r['model'][:16]:<16} {created}")
    return 0


def show(args: argparse.Namespace) -> int:
    try:
        run = _find(args)
    except RunNotFound as exc:
        return error("show", str(exc))
    status = refresh(run)
    config = run.config()
    metrics = run.metrics()
    if args.json:
        print(json.dumps({"id": run.id, "dir": str(run.dir), "config": config.to_dict(), "status": status.to_dict(), "metrics": metrics}, indent=2))
        return 0
    t, lo = config.train, config.lora
    steps = f"{t.max_steps} steps" if t.max_steps else f"{t.epochs:g} epochs"
    print(f"run {run.id}   {status.state}" + (f": {status.reason}" if status.reason else ""))
    print(f"  data     {config.data.path}" + (f"  (separator {config.data.separator!r})" if config.data.separator else ""))
    print(f"  model    {config.model.name} ({config.model.quant}), LoRA r={lo.r} alpha={lo.alpha} dropout={lo.dropout}")
    print(f"  train    {steps}, lr {t.lr:g}, batch {t.batch_size}x{t.grad_accum}, seq {t.seq_len}, seed {t.seed}")
    if status.started_at:
        end = status.ended_at or status.updated_at
        print(f"  time     started {datetime.fromtimestamp(status.started_at):%Y-%m-%d %H:%M:%S}, ran {duration(end - status.started_at)}")
    progress, eta = progress_cells(run, status.state)
    if status.state in ("queued", "training"):
        print(f"  progress {progress}, eta {eta}")
    if metrics:
        print()
        print(format_scorecard(metrics))
    if status.state == "failed":
        print("\nlast lines of the training process's output:")
        for line in tail(run.log_path):
            print(f"  {line}")
    return 0


def logs(args: argparse.Namespace) -> int:
    try:
        run = _find(args)
    except RunNotFound as exc:
        return error("logs", str(exc))
    if args.follow:
        try:
            follow(run)
        except KeyboardInterrupt:
            print("\nstopped following; the run goes on")
        return 0
    for _, event in run.events():
        print(format_event(event))
    return 0


def cancel_run(args: argparse.Namespace) -> int:
    try:
        run = _find(args)
    except RunNotFound as exc:
        return error("cancel", str(exc))
    before = refresh(run).state
    if before not in ("queued", "training"):
        return error("cancel", f"run {run.id} is already {before}")
    status = cancel(run)
    if status.state == "cancelled":
        print(f"run {run.id} cancelled")
    else:
        print(f"run {run.id}: asked the training process to stop; it saves a checkpoint, then shows as cancelled")
    return 0


def resume(args: argparse.Namespace) -> int:
    try:
        run = resume_run(_find(args))
    except (RunNotFound, RunStateError) as exc:
        return error("resume", str(exc))
    checkpoint = run.last_checkpoint()
    where = f"from {checkpoint.name}" if checkpoint else "from the start (no checkpoint yet)"
    print(f"run {run.id} resumed {where}; follow it with: finetui logs {run.id} -f")
    return 0


def remove(args: argparse.Namespace) -> int:
    try:
        run = _find(args)
        remove_run(run)
    except (RunNotFound, RunStateError) as exc:
        return error("rm", str(exc))
    print(f"run {run.id} removed")
    return 0
