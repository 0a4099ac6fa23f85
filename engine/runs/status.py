"""A run's lifecycle state, stored in ``status.json``."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

State = Literal["queued", "training", "ready", "failed", "cancelled", "broken"]
#: Every state a reader may see. ``broken`` is never written: a reader reports
#: it for a run folder whose own files can't be read (see ``Run.status``).
STATES: tuple[str, ...] = ("queued", "training", "ready", "failed", "cancelled", "broken")
BROKEN = "broken"
#: States in which a process should be alive and working on the run.
ACTIVE: tuple[str, ...] = ("queued", "training")
#: States from which ``resume`` may continue a run.
RESUMABLE: tuple[str, ...] = ("failed", "cancelled")


@dataclass
class Status:
    """Where a run is: ``state``, when things happened, which process owns it, why it failed."""

    state: str = "queued"
    created_at: float = 0.0
    started_at: float | None = None
    ended_at: float | None = None
    updated_at: float = 0.0
    pid: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Any) -> Status:
        """A status read back from ``status.json``; ``ValueError`` names what is wrong in it.

        Keys from a newer finetui are ignored; a wrong type or an unknown state is not.
        """
        if not isinstance(raw, dict):
            raise ValueError(f"expected a JSON object, found {type(raw).__name__}")
        missing = [key for key in ("state", "created_at") if key not in raw]
        if missing:
            raise ValueError(f"it has no {missing[0]!r}")
        known = {f.name for f in fields(cls)}
        status = cls(**{k: v for k, v in raw.items() if k in known})
        if status.state not in STATES or status.state == BROKEN:
            raise ValueError(f"unknown state {status.state!r}")
        for name in ("created_at", "updated_at"):
            if not _is_number(getattr(status, name)):
                raise ValueError(f"{name} must be a number, not {getattr(status, name)!r}")
        for name in ("started_at", "ended_at"):
            value = getattr(status, name)
            if value is not None and not _is_number(value):
                raise ValueError(f"{name} must be a number, not {value!r}")
        if status.pid is not None and (isinstance(status.pid, bool) or not isinstance(status.pid, int)):
            raise ValueError(f"pid must be a whole number, not {status.pid!r}")
        if status.reason is not None and not isinstance(status.reason, str):
            raise ValueError(f"reason must be text, not {status.reason!r}")
        return status

    def moved(self, state: str, **changes: Any) -> Status:
        """A copy in ``state``, stamped now; ``ended_at`` is set on final states."""
        if state not in STATES or state == BROKEN:
            raise ValueError(f"unknown run state {state!r}")
        now = time.time()
        values = {**self.to_dict(), **changes, "state": state, "updated_at": now}
        if state not in ACTIVE and values.get("ended_at") is None:
            values["ended_at"] = now
        if state in ACTIVE:
            values["ended_at"] = None
        return Status(**values)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
