"""A run's lifecycle state, stored in ``status.json``."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

State = Literal["queued", "training", "ready", "failed", "cancelled"]
STATES: tuple[str, ...] = ("queued", "training", "ready", "failed", "cancelled")
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
    def from_dict(cls, raw: dict[str, Any]) -> Status:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    def moved(self, state: str, **changes: Any) -> Status:
        """A copy in ``state``, stamped now; ``ended_at`` is set on final states."""
        if state not in STATES:
            raise ValueError(f"unknown run state {state!r}")
        now = time.time()
        values = {**self.to_dict(), **changes, "state": state, "updated_at": now}
        if state not in ACTIVE and values.get("ended_at") is None:
            values["ended_at"] = now
        if state in ACTIVE:
            values["ended_at"] = None
        return Status(**values)
