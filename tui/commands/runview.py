"""How runs read on the command line: event lines, the runs table, the scorecard, following a log."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import Any

from engine.runs import Run
from engine.runs.process import refresh
from engine.runs.status import ACTIVE

POLL_S = 0.5


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def format_event(event: dict[str, Any]) -> str:
    """One event as one line, stamped with its local time."""
    stamp = datetime.fromtimestamp(event.get("time", 0)).strftime("%H:%M:%S")
    kind = event.get("kind")
    if kind == "step":
        parts = [f"step {event['step']}/{event.get('max_steps') or '?'}", f"loss {event['loss']:.4f}"]
        if event.get("lr") is not None:
            parts.append(f"lr {event['lr']:.2e}")
        if event.get("grad_norm") is not None:
            parts.append(f"grad {event['grad_norm']:.3f}")
        if event.get("tokens_per_s") is not None:
            parts.append(f"{event['tokens_per_s']:,.0f} tok/s")
        if event.get("progress") is not None:
            parts.append(f"{100 * event['progress']:.0f}%")
        parts.append(f"eta {duration(event.get('eta_s'))}")
        text = "  ".join(parts)
    elif kind == "eval":
        text = f"eval {event['which']}: loss {event['loss']:.4f}  accuracy {100 * event['accuracy']:.1f}%  ({event['tokens']:,} tokens)"
    elif kind == "checkpoint":
        text = f"checkpoint saved: {event['path']}"
    elif kind == "status":
        text = f"status: {event['state']}" + (f" ({event['reason']})" if event.get("reason") else "")
    else:
        text = str(event.get("message", event))
    return f"{stamp}  {text}"


def progress_cells(run: Run, state: str) -> tuple[str, str]:
    """Progress and ETA for the runs table, from the last step event."""
    step = run.last_step()
    if state == "ready":
        return "100%", "-"
    if not step or step.get("progress") is None:
        return "-", "-"
    eta = duration(step.get("eta_s")) if state == "training" else "-"
    return f"{100 * step['progress']:.0f}%", eta


def format_scorecard(metrics: dict[str, Any]) -> str:
    """Baseline → custom for loss and token accuracy, with the change, then the training figures."""
    b, c, d, t = metrics["baseline"], metrics["custom"], metrics["change"], metrics["train"]
    lines = [
        "scorecard (held-out eval split)      baseline →   custom   change",
        f"  token accuracy                     {100 * b['accuracy']:7.1f}% → {100 * c['accuracy']:7.1f}%  {d['accuracy_points']:+.1f} points",
        f"  loss                               {b['loss']:8.4f} → {c['loss']:8.4f}  {d['loss']:+.4f}",
        f"  eval tokens                        {c['tokens']:,}",
        f"training: {t['steps']} steps, {t['tokens']:,} tokens in {duration(t['train_time_s'])}"
        + (f" ({t['tokens_per_s']:,.0f} tokens/s)" if t.get("tokens_per_s") else "")
        + f", peak memory {t['peak_memory_bytes'] / 2**20:,.0f} MiB on {t['device']}",
    ]
    curve = t.get("loss_curve") or []
    if curve:
        first, last = curve[0], curve[-1]
        lines.append(f"train loss: {first[1]:.4f} at step {first[0]} → {last[1]:.4f} at step {last[0]}")
    return "\n".join(lines)


def follow(run: Run, start: int = 0) -> str:
    """Print the run's events from byte ``start`` on, following until the run ends; returns the final state."""
    offset = start
    while True:
        for offset, event in run.events(offset):
            print(format_event(event), flush=True)
        state = refresh(run).state
        if state not in ACTIVE:
            for offset, event in run.events(offset):
                print(format_event(event), flush=True)
            return state
        time.sleep(POLL_S)


def tail(path: Any, lines: int = 10) -> list[str]:
    """The last lines of a text file, for showing why a run failed."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 16384))
            return fh.read().decode("utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def error(command: str, message: str) -> int:
    print(f"finetui {command}: error: {message}", file=sys.stderr)
    return 2
