"""``finetui runs|show|logs|cancel|resume|rm``: look after training runs."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime

from engine.config import ConfigError
from engine.runs import Run, RunNotFound, RunStore
from engine.runs.lifecycle import RunStateError, remove_run, resume_run
from engine.runs.process import cancel, refresh, wait_until_stopped
from engine.runs.store import BrokenRun
from tui.commands.flags import worded
from tui.commands.runview import error, follow, os_problem, print_samples, say, tail
from tui.format import duration, format_event, format_scorecard, phase_words, progress_cells, shown
from tui.run_feed import last_phase, queue_order


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("runs", help="list training runs with status, progress and ETA")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=list_runs)

    p = subparsers.add_parser("show", help="a run's config, status and scorecard")
    p.add_argument("run", help="run id, unique id prefix, or name")
    p.add_argument("--json", action="store_true", help="print config, status and metrics as JSON")
    p.add_argument("--samples", action="store_true", help="print the samples: prompt, reference, and what baseline and custom wrote")
    p.set_defaults(func=show)

    p = subparsers.add_parser("logs", help="a run's log: steps, evals, checkpoints, status changes")
    p.add_argument("run", help="run id, unique id prefix, or name")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing until the run ends (Ctrl-C stops following only)")
    p.set_defaults(func=logs)

    p = subparsers.add_parser(
        "cancel",
        help="stop a queued or training run (it saves a checkpoint first)",
        description="Stop a queued or training run. A training run saves a checkpoint, then shows as cancelled; "
        "`finetui resume` continues from there. Without --wait this returns as soon as the run is asked to stop.",
    )
    p.add_argument("run", help="run id, unique id prefix, or name")
    p.add_argument("--wait", action="store_true", help="return once the run has stopped (checkpoint saved, process ended), so a resume can follow at once")
    p.add_argument("--timeout", type=float, metavar="S", help="with --wait: give up waiting after S seconds (exit 1; the run still stops)")
    p.set_defaults(func=cancel_run)

    p = subparsers.add_parser("resume", help="continue a failed or cancelled run from its last checkpoint")
    p.add_argument("run", help="run id, unique id prefix, or name")
    p.add_argument("--devices", metavar="N|all", help="continue on this many processes (default: as before)")
    p.set_defaults(func=resume)

    p = subparsers.add_parser("rm", help="delete a run that is not queued or training")
    p.add_argument("run", help="run id, unique id prefix, or name")
    p.set_defaults(func=remove)


def _find(args: argparse.Namespace) -> Run:
    return RunStore().get(args.run)


def _summary(run: Run) -> dict | None:
    """One run as the table shows it; None if its folder went away meanwhile. A broken run says why.

    ``phase`` is what a training run is doing (``list_runs`` words a queued one's, which needs the other runs).
    """
    try:
        status = refresh(run)
    except FileNotFoundError:
        return None
    try:
        config = run.config()
        name, model, data = config.name, config.model.name, config.data.path
        devices, nodes = config.train.devices, config.train.nodes
    except BrokenRun:
        name = model = data = devices = "?"
        nodes = 1
    progress, eta = _progress(run, status.state)
    phase = phase_words(status.state, last_phase(run)) if status.state == "training" else ""
    return {
        "id": run.id,
        "name": name,
        "state": status.state,
        "progress": progress,
        "eta": eta,
        "phase": phase,
        "model": model,
        "devices": devices,
        "nodes": nodes,
        "data": data,
        "created_at": status.created_at,
        "reason": status.reason,
        "dir": str(run.dir),
    }


def _progress(run: Run, state: str) -> tuple[str, str]:
    """Progress and ETA cells from the run's latest step (``-`` when its log can't be read)."""
    try:
        step = run.last_step() if state not in ("ready", "broken") else None
    except OSError:
        step = None
    return progress_cells(state, step)


def _doing(run: Run, state: str) -> str:
    """What a queued or training run is doing now: its phase, or the run a queued one starts after."""
    if state == "training":
        return phase_words(state, last_phase(run))
    states = []
    for other in RunStore().list():
        try:
            states.append((other.id, refresh(other).state))
        except FileNotFoundError:
            continue  # removed while we read
    return phase_words(state, None, queue_order(states).get(run.id))


def list_runs(args: argparse.Namespace) -> int:
    try:
        rows = [row for row in map(_summary, RunStore().list()) if row is not None]
    except OSError as exc:
        return error("runs", os_problem(exc))
    after = queue_order([(r["id"], r["state"]) for r in rows])
    for r in rows:
        if r["state"] == "queued":
            r["phase"] = phase_words("queued", None, after.get(r["id"]))
    if args.json:
        print(json.dumps(rows, indent=2, allow_nan=False))
        return 0
    if not rows:
        say("no runs yet: start one with `finetui train DATA`")
        return 0
    say(f"{'RUN':<34} {'STATUS':<10} {'PROGRESS':>8} {'ETA':>8} {'N':>5}  {'MODEL':<16} {'CREATED':<16}  PHASE")
    for r in rows:
        created = datetime.fromtimestamp(r["created_at"]).strftime("%Y-%m-%d %H:%M")
        n = r["devices"] if r["nodes"] == 1 else f"{r['devices']}×{r['nodes']}"  # processes per node × nodes
        line = f"{r['id']:<34} {r['state']:<10} {r['progress']:>8} {r['eta']:>8} {n:>5}  {shown(str(r['model']))[:16]:<16} {created:<16}  {r['phase']}"
        say(line.rstrip())
        if r["state"] == "broken":
            say(f"  └ {r['reason']}; `finetui rm {r['id']}` removes it")
    return 0


def show(args: argparse.Namespace) -> int:
    try:
        run = _find(args)
        status = refresh(run)
    except (RunNotFound, OSError) as exc:
        return error("show", os_problem(exc))
    try:
        config = run.config()
    except BrokenRun as exc:
        config = None
        config_problem = str(exc)
    try:
        metrics, metrics_problem = run.metrics(), None
    except BrokenRun as exc:
        metrics, metrics_problem = None, str(exc)
    if args.samples:
        return print_samples(run, metrics)
    if args.json:
        document = {
            "id": run.id,
            "dir": str(run.dir),
            "config": config.to_dict() if config else None,
            "status": status.to_dict(),
            "metrics": metrics.to_json() if metrics else None,
            "problems": [p for p in (None if config else config_problem, metrics_problem) if p],
        }
        print(json.dumps(document, indent=2, allow_nan=False))
        return 0
    say(f"run {run.id}   {status.state}" + (f": {status.reason}" if status.reason else ""))
    if config is None:
        say(f"  {config_problem}")
        if status.state == "broken":
            say(f"  `finetui rm {run.id}` removes it")
        return 0
    t, lo = config.train, config.lora
    steps = f"{t.max_steps} steps" if t.max_steps else f"{t.epochs:g} epochs"
    say(f"  data     {config.data.path}" + (f"  (separator {config.data.separator!r})" if config.data.separator else ""))
    say(f"  model    {config.model.name} ({config.model.quant}), LoRA r={lo.r} alpha={lo.alpha} dropout={lo.dropout}")
    say(f"  train    {steps}, lr {t.lr:g}, batch {t.batch_size}x{t.grad_accum}, seq {t.seq_len}, seed {t.seed}")
    if status.started_at:
        started = f"  time     started {datetime.fromtimestamp(status.started_at):%Y-%m-%d %H:%M:%S}"
        if status.ended_at is None and status.state == "training":  # the status is not rewritten at each step: measure to now
            say(f"{started}, running for {duration(time.time() - status.started_at)}")
        else:
            say(f"{started}, ran {duration((status.ended_at or status.updated_at) - status.started_at)}")
    progress, eta = _progress(run, status.state)
    if status.state in ("queued", "training"):
        say(f"  progress {progress}, eta {eta}, {_doing(run, status.state)}")
    if metrics:
        say()
        say(format_scorecard(metrics))
    elif metrics_problem:
        say(f"\n  scorecard unreadable: {metrics_problem}")
    if status.state == "ready" and not (run.adapter_dir / "adapter_config.json").is_file():
        say("\n  its adapter folder is missing, so it can't be used in the playground; train again to get one")
    if status.state == "failed":
        lines = tail(run.log_path)
        if lines:
            say("\nlast lines of the training process's output:")
            for line in lines:
                say(f"  {line}")
        if run.log_path.is_file():
            say(f"\nall of it, with any traceback: {run.log_path}")
    return 0


def logs(args: argparse.Namespace) -> int:
    try:
        run = _find(args)
    except (RunNotFound, OSError) as exc:
        return error("logs", os_problem(exc))
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
    if args.timeout is not None and not (args.timeout >= 0 and args.wait):
        return error("cancel", "--timeout needs --wait, and a number of seconds of 0 or more")
    try:
        run = _find(args)
        before = refresh(run).state
        if before not in ("queued", "training"):
            return error("cancel", f"run {run.id} is {before}, not queued or training")
        status = cancel(run)
    except (RunNotFound, OSError) as exc:
        return error("cancel", os_problem(exc))
    if not args.wait:
        if status.state == "cancelled":
            print(f"run {run.id} cancelled")
        else:
            print(f"run {run.id}: asked the training process to stop; it saves a checkpoint, then shows as cancelled")
        return 0
    if status.state != "cancelled":
        print(f"run {run.id}: asked the training process to stop; waiting while it saves a checkpoint (Ctrl-C stops the waiting, not the cancel)")
    return _wait_stopped(run, args.timeout)


#: How often ``cancel --wait`` says it is still waiting.
WAIT_NOTE_S = 10.0


def _wait_stopped(run: Run, timeout: float | None) -> int:
    """``cancel --wait``: block until the run has stopped, saying so every ``WAIT_NOTE_S``; 0 once cancelled."""
    started = time.monotonic()
    try:
        while True:
            left = None if timeout is None else timeout - (time.monotonic() - started)
            status = wait_until_stopped(run, WAIT_NOTE_S if left is None else max(0.0, min(WAIT_NOTE_S, left)))
            waited = time.monotonic() - started
            if status is not None:
                break
            if left is not None and left <= WAIT_NOTE_S:
                follow_hint = f"finetui logs {run.id} -f follows it"
                print(f"finetui cancel: run {run.id} has not stopped within {timeout:g} s; it is still stopping ({follow_hint})", file=sys.stderr)
                return 1
            print(f"  still stopping after {waited:.0f} s")
    except KeyboardInterrupt:
        print(f"\nstopped waiting; run {run.id} is still stopping")
        return 130
    except OSError as exc:
        return error("cancel", os_problem(exc))
    if status.state == "cancelled":
        checkpoint = run.last_checkpoint()
        saved = f"; finetui resume {run.id} continues from {checkpoint.name}" if checkpoint else "; it had no checkpoint yet"
        print(f"run {run.id} cancelled after {waited:.1f} s{saved}")
        return 0
    if status.state == "ready":
        print(f"run {run.id} finished (ready) before it could stop")
        return 0
    print(shown(f"finetui cancel: run {run.id} ended {status.state}: {status.reason}"), file=sys.stderr)
    return 1


def resume(args: argparse.Namespace) -> int:
    try:
        run = resume_run(_find(args), devices=args.devices)
    except ConfigError as exc:
        return error("resume", worded(exc))
    except (RunNotFound, RunStateError, BrokenRun, OSError) as exc:
        return error("resume", os_problem(exc))
    checkpoint = run.last_checkpoint()
    where = f"from {checkpoint.name}" if checkpoint else "from the start (no checkpoint yet)"
    print(f"run {run.id} resumed {where}; follow it with: finetui logs {run.id} -f")
    return 0


def remove(args: argparse.Namespace) -> int:
    try:
        run = _find(args)
        remove_run(run)
    except (RunNotFound, RunStateError, OSError) as exc:
        return error("rm", os_problem(exc))
    print(f"run {run.id} removed")
    return 0
