"""Find, create and remove run folders under ``$FINETUI_HOME/runs``."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import RunConfig
from engine.paths import home
from engine.runs.files import append_jsonl, iter_jsonl, last_jsonl, read_json, write_json_atomic
from engine.runs.status import Status


class RunNotFound(LookupError):
    """No run matches what the user typed; the message says what was looked for."""


@dataclass(frozen=True)
class Run:
    """A handle on one run folder; every read goes to the files."""

    dir: Path

    @property
    def id(self) -> str:
        return self.dir.name

    @property
    def config_path(self) -> Path:
        return self.dir / "config.json"

    @property
    def status_path(self) -> Path:
        return self.dir / "status.json"

    @property
    def events_path(self) -> Path:
        return self.dir / "events.jsonl"

    @property
    def metrics_path(self) -> Path:
        return self.dir / "metrics.json"

    @property
    def log_path(self) -> Path:
        return self.dir / "process.log"

    @property
    def checkpoints_dir(self) -> Path:
        return self.dir / "checkpoints"

    @property
    def adapter_dir(self) -> Path:
        return self.dir / "adapter"

    def config(self) -> RunConfig:
        return RunConfig.from_dict(read_json(self.config_path))

    def status(self) -> Status:
        """The status as written; ``engine.runs.process.refresh`` also spots dead processes."""
        return Status.from_dict(read_json(self.status_path))

    def write_status(self, status: Status) -> None:
        write_json_atomic(self.status_path, status.to_dict())

    def event(self, kind: str, **data: Any) -> None:
        """Append one event: ``log``, ``step``, ``eval``, ``checkpoint``, ``status`` or ``scorecard``."""
        append_jsonl(self.events_path, {"time": time.time(), "kind": kind, **data})

    def log(self, message: str, level: str = "info") -> None:
        self.event("log", level=level, message=message)

    def events(self, start: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(offset_after, event)`` pairs from byte ``start``: pass the last offset to follow."""
        return iter_jsonl(self.events_path, start)

    def last_step(self) -> dict[str, Any] | None:
        """The latest step metrics (progress, ETA), read from the tail of the event log."""
        return last_jsonl(self.events_path, {"step"})

    def metrics(self) -> dict[str, Any] | None:
        """The scorecard, once the run is ready."""
        return read_json(self.metrics_path) if self.metrics_path.exists() else None

    def last_checkpoint(self) -> Path | None:
        """The newest complete ``checkpoint-N`` folder, the one ``resume`` starts from."""
        if not self.checkpoints_dir.is_dir():
            return None
        found = [
            (int(p.name.split("-")[1]), p)
            for p in self.checkpoints_dir.glob("checkpoint-*")
            if p.name.split("-")[1].isdigit() and (p / "trainer_state.json").exists()
        ]
        return max(found)[1] if found else None


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:40] or "run"


class RunStore:
    """All runs of this machine (or of ``root``, for tests)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else home() / "runs"

    def create(self, config: RunConfig) -> Run:
        """A new run folder holding the frozen config and a ``queued`` status."""
        self.root.mkdir(parents=True, exist_ok=True)
        stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(config.name)}"
        for n in range(1, 1000):
            path = self.root / (stem if n == 1 else f"{stem}-{n}")
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        else:
            raise RuntimeError(f"cannot create a run folder under {self.root}")
        run = Run(path)
        write_json_atomic(run.config_path, config.to_dict())
        now = time.time()
        run.write_status(Status(state="queued", created_at=now, updated_at=now))
        run.event("status", state="queued")
        return run

    def list(self) -> list[Run]:
        """Runs oldest first; folders without a status file are not runs."""
        if not self.root.is_dir():
            return []
        runs = [Run(p) for p in self.root.iterdir() if (p / "status.json").exists()]
        return sorted(runs, key=lambda r: (r.status().created_at, r.id))

    def get(self, ref: str) -> Run:
        """A run by id, unique id prefix, or name (the newest run of that name)."""
        runs = self.list()
        exact = [r for r in runs if r.id == ref]
        if exact:
            return exact[0]
        prefixed = [r for r in runs if r.id.startswith(ref)]
        if len(prefixed) == 1:
            return prefixed[0]
        named = [r for r in runs if r.config().name == ref]
        if named:
            return named[-1]
        if len(prefixed) > 1:
            raise RunNotFound(f"run {ref!r} is ambiguous: {', '.join(r.id for r in prefixed)}")
        raise RunNotFound(f"no run {ref!r} (see `finetui runs`)")

    def remove(self, run: Run) -> None:
        shutil.rmtree(run.dir)
