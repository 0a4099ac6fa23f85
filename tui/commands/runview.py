"""How runs read on the command line: event lines, the runs table, the scorecard, following a log."""

from __future__ import annotations

import json
import math
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


def _num(event: dict[str, Any], key: str) -> float | None:
    """A figure of an event, or None when it is missing or not a number (a damaged line)."""
    value = event.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return value


def format_event(event: dict[str, Any]) -> str:
    """One event as one line, stamped with its local time; a damaged event still reads as a line."""
    when = _num(event, "time")
    stamp = datetime.fromtimestamp(when).strftime("%H:%M:%S") if when is not None and 0 <= when < 1e11 else "--:--:--"
    kind = event.get("kind")
    if kind == "step" and _num(event, "loss") is not None:
        parts = [f"step {event.get('step', '?')}/{event.get('max_steps') or '?'}", f"loss {_num(event, 'loss'):.4f}"]
        if (lr := _num(event, "lr")) is not None:
            parts.append(f"lr {lr:.2e}")
        if (grad := _num(event, "grad_norm")) is not None:
            parts.append(f"grad {grad:.3f}")
        if (speed := _num(event, "tokens_per_s")) is not None:
            parts.append(f"{speed:,.0f} tok/s")
        if (progress := _num(event, "progress")) is not None:
            parts.append(f"{100 * progress:.0f}%")
        parts.append(f"eta {duration(_num(event, 'eta_s'))}")
        text = "  ".join(parts)
    elif kind == "eval" and isinstance(event.get("tokens"), int):
        loss, accuracy = _num(event, "loss"), _num(event, "accuracy")
        if loss is None or accuracy is None:
            text = f"eval {event.get('which', '?')}: no tokens to score"
        else:
            text = f"eval {event.get('which', '?')}: loss {loss:.4f}  accuracy {100 * accuracy:.1f}%  ({event['tokens']:,} tokens)"
    elif kind == "checkpoint":
        text = f"checkpoint saved: {event.get('path', '?')}"
    elif kind == "status":
        text = f"status: {event.get('state', '?')}" + (f" ({event['reason']})" if event.get("reason") else "")
    elif kind == "phase":
        text = f"phase: {event.get('phase', '?')}"
    elif isinstance(event.get("message"), str):
        text = event["message"]
    else:
        text = f"(unreadable event: {json.dumps(event, ensure_ascii=False, default=str)[:120]})"
    return f"{stamp}  {text}"


def progress_cells(run: Run, state: str) -> tuple[str, str]:
    """Progress and ETA for the runs table, from the last step event."""
    if state == "ready":
        return "100%", "-"
    if state == "broken":
        return "-", "-"
    try:
        step = run.last_step()
    except OSError:
        return "-", "-"
    progress = _num(step, "progress") if step else None
    if progress is None:
        return "-", "-"
    eta = duration(_num(step, "eta_s")) if state == "training" else "-"
    return f"{100 * progress:.0f}%", eta


def format_scorecard(metrics: dict[str, Any]) -> str:
    """Baseline → custom for loss and token accuracy, with the change, then the training figures.

    A scorecard without eval tokens (no figures to compare) says so instead of showing NaN.
    """
    b, c, d, t = (metrics.get(part) or {} for part in ("baseline", "custom", "change", "train"))
    ba, ca, da = _num(b, "accuracy"), _num(c, "accuracy"), _num(d, "accuracy_points")
    bl, cl, dl = _num(b, "loss"), _num(c, "loss"), _num(d, "loss")
    lines = ["scorecard (held-out eval split)      baseline →   custom   change"]
    if None in (ba, ca, da, bl, cl, dl):
        lines.append("  no eval tokens were scored: the eval split had nothing to compare the models on")
    else:
        lines.append(f"  token accuracy                     {100 * ba:7.1f}% → {100 * ca:7.1f}%  {da:+.1f} points")
        lines.append(f"  loss                               {bl:8.4f} → {cl:8.4f}  {dl:+.4f}")
    tokens = c.get("tokens")
    lines.append(f"  eval tokens                        {tokens:,}" if isinstance(tokens, int) else "  eval tokens                        ?")
    steps, seen = t.get("steps", "?"), t.get("tokens")
    line = f"training: {steps} steps, " + (f"{seen:,} tokens" if isinstance(seen, int) else "? tokens")
    line += f" in {duration(_num(t, 'train_time_s'))}"
    if (speed := _num(t, "tokens_per_s")) is not None:
        line += f" ({speed:,.0f} tokens/s)"
    if (memory := _num(t, "peak_memory_bytes")) is not None:
        line += f", peak memory {memory / 2**20:,.0f} MiB on {t.get('device', '?')}"
    lines.append(line)
    curve = [p for p in t.get("loss_curve") or [] if isinstance(p, list) and len(p) == 2 and _num({"v": p[1]}, "v") is not None]
    if curve:
        first, last = curve[0], curve[-1]
        lines.append(f"train loss: {first[1]:.4f} at step {first[0]} → {last[1]:.4f} at step {last[0]}")
    return "\n".join(lines)


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinity turned into None: strict JSON parsers reject them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def os_problem(exc: BaseException) -> str:
    """An error as one line: our own messages as they are, a raw ``OSError`` as reason and file."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror + (f": {exc.filename}" if exc.filename else "")
    return str(exc)


def follow(run: Run, start: int = 0) -> str:
    """Print the run's events from byte ``start`` on, following until the run ends; returns the final state."""
    offset = start
    while True:
        for offset, event in run.events(offset):
            print(format_event(event), flush=True)
        try:
            state = refresh(run).state
        except FileNotFoundError:
            return "removed"
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
