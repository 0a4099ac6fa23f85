"""Find, create and remove run folders under ``$FINETUI_HOME/runs``."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import RunConfig
from engine.files import append_jsonl, iter_lines, last_jsonl, read_json, write_json_atomic
from engine.paths import home
from engine.runs.events import LogEvent, RunEvent, Scorecard, StatusEvent, StepEvent, event_from_json, event_from_line
from engine.runs.status import BROKEN, Status

#: Set (to 1) in the processes of a distributed run; with it, only the process whose ``RANK`` is 0 writes
#: the run's files (see ``engine.train.distributed``).
DISTRIBUTED_ENV = "FINETUI_DISTRIBUTED"


def _writer() -> bool:
    """Whether this process may write the run's files: not a rank other than 0 of a distributed run."""
    return os.environ.get(DISTRIBUTED_ENV) != "1" or os.environ.get("RANK", "0") == "0"


#: Folders under ``runs/`` starting with this are not runs: one being created
#: or removed (see ``RunStore.create`` and ``RunStore.remove``), or the user's own.
HIDDEN = "."


class RunNotFound(LookupError):
    """No run matches what the user typed; the message says what was looked for."""


class BrokenRun(ValueError):
    """A run file that can't be read or makes no sense; the message names the file and what is wrong."""


class RunStoreError(OSError):
    """The runs folder can't be changed (read-only, full, permission); the message is one line."""


def _file_problem(name: str, exc: BaseException) -> str:
    """What is wrong with a run file, as a user reads it."""
    if isinstance(exc, FileNotFoundError):
        return f"{name} is missing"
    if isinstance(exc, OSError):
        return f"{name} can't be read ({exc.strerror or exc})"
    if isinstance(exc, UnicodeDecodeError):
        return f"{name} is not UTF-8 text"
    if isinstance(exc, json.JSONDecodeError):
        if not exc.doc.strip():
            return f"{name} is empty"
        return f"{name} is not valid JSON (line {exc.lineno}: {exc.msg.lower()})"
    return f"{name}: {exc}"


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

    @property
    def worker_lock_path(self) -> Path:
        """Held (``flock``) by the run's training process for its whole life; see ``engine.runs.process``."""
        return self.dir / "worker.lock"

    def config(self) -> RunConfig:
        """The run's frozen config; ``BrokenRun`` says what is wrong with ``config.json``."""
        try:
            return RunConfig.from_dict(read_json(self.config_path))
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise BrokenRun(f"run {self.id}: {_file_problem('config.json', exc)}") from None

    def config_problem(self) -> str | None:
        """Why ``config.json`` can't be used, or None when it is fine."""
        try:
            self.config()
        except BrokenRun as exc:
            return str(exc).split(": ", 1)[1]
        return None

    def status(self) -> Status:
        """The status as written, or a ``broken`` one naming what is wrong with ``status.json``.

        Never raises for a bad file, so one broken run never hides the others;
        ``engine.runs.process.refresh`` also spots dead processes.
        Raises ``FileNotFoundError`` only when the run folder itself is gone.
        """
        try:
            return Status.from_dict(read_json(self.status_path))
        except (OSError, ValueError, TypeError) as exc:
            try:
                made = self.dir.stat().st_mtime
            except FileNotFoundError:
                raise FileNotFoundError(f"run {self.id} no longer exists") from None
            return Status(state=BROKEN, created_at=made, updated_at=made, reason=_file_problem("status.json", exc))

    def write_status(self, status: Status) -> None:
        if _writer():
            write_json_atomic(self.status_path, status.to_dict())

    def append(self, event: RunEvent) -> None:
        """Append one typed event to ``events.jsonl`` (see ``engine.runs.events``); rank 0 alone writes in a distributed run."""
        if _writer():
            append_jsonl(self.events_path, event.to_json())

    def log(self, message: str, level: str = "info") -> None:
        self.append(LogEvent(message=message, level=level))

    def events(self, start: int = 0) -> Iterator[tuple[int, RunEvent]]:
        """``(offset_after, event)`` pairs from byte ``start``: pass the last offset to follow.

        Every whole line yields one event; a line that can't be read yields an
        ``UnreadableEvent`` (readers after figures skip it, the log shows it).
        A trailing line without its newline is still being written: it is
        left for the next call.
        """
        for offset, line in iter_lines(self.events_path, start):
            if line.strip():  # a blank line says nothing, not even that it is damaged
                yield offset, event_from_line(line)

    def last_step(self) -> StepEvent | None:
        """The latest step (progress, ETA), read from the tail of the event log."""
        found = last_jsonl(self.events_path, {"step"})
        event = event_from_json(found) if found is not None else None
        return event if isinstance(event, StepEvent) else None

    def metrics(self) -> Scorecard | None:
        """The scorecard, once the run is ready; ``BrokenRun`` when ``metrics.json`` is unreadable."""
        try:
            raw = read_json(self.metrics_path)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise BrokenRun(f"run {self.id}: {_file_problem('metrics.json', exc)}") from None
        try:
            return Scorecard.from_json(raw)
        except ValueError as exc:
            raise BrokenRun(f"run {self.id}: metrics.json is {exc}") from None

    def last_checkpoint(self) -> Path | None:
        """The newest complete ``checkpoint-N`` folder, the one ``resume`` starts from."""
        if not self.checkpoints_dir.is_dir():
            return None
        found = [
            (int(p.name.split("-")[1]), p)
            for p in self.checkpoints_dir.glob("checkpoint-*")
            if p.name.split("-")[1].isdigit() and _readable_json(p / "trainer_state.json")
        ]
        return max(found)[1] if found else None


def _readable_json(path: Path) -> bool:
    """Whether ``path`` holds a JSON object: a checkpoint cut short by a kill or a full disk does not."""
    try:
        return isinstance(read_json(path), dict)
    except (OSError, ValueError):
        return False


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:40] or "run"


class RunStore:
    """All runs of this machine (or of ``root``, for tests)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else home() / "runs"

    def create(self, config: RunConfig) -> Run:
        """A new run folder holding the frozen config and a ``queued`` status.

        The folder is filled under a hidden name, then renamed into place, so
        no reader ever sees a run without its files. ``RunStoreError`` when the
        runs folder can't be written (read-only, full).
        """
        stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(config.name)}"
        staging = self.root / f"{HIDDEN}new-{stem}-{uuid.uuid4().hex[:8]}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            staging.mkdir()
            draft = Run(staging)
            write_json_atomic(draft.config_path, config.to_dict())
            now = time.time()
            draft.write_status(Status(state="queued", created_at=now, updated_at=now))
            draft.append(StatusEvent(state="queued"))
            for n in range(1, 1000):
                path = self.root / (stem if n == 1 else f"{stem}-{n}")
                if path.exists():
                    continue
                try:
                    os.rename(staging, path)  # fails if another run took the name meanwhile
                except OSError:
                    if path.exists():
                        continue
                    raise
                return Run(path)
            raise RunStoreError(f"cannot create a run folder under {self.root}: 999 runs named {stem}")
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, RunStoreError):
                raise
            raise RunStoreError(f"cannot create a run under {self.root}: {exc.strerror or exc}") from None

    def check(self) -> None:
        """``RunStoreError`` when the runs folder can't be there: it, or a folder above it (``FINETUI_HOME``), is a file.

        Said before a run is set up, rather than as whatever reads the folder first.
        """
        for path in (self.root, *self.root.parents):
            if path.exists():
                if not path.is_dir():
                    raise self._blocked()
                return

    def _blocked(self) -> RunStoreError:
        """The runs folder's path runs into a file: which one, and the variable that moves it."""
        file = next((p for p in (self.root, *self.root.parents) if p.exists() and not p.is_dir()), self.root)
        where = "there" if file == self.root else f"in {self.root}"
        moved = "; set FINETUI_HOME to a folder" if os.environ.get("FINETUI_HOME") else ""
        return RunStoreError(f"{file} is a file, not a folder: finetui keeps its runs {where}{moved}")

    def list(self) -> list[Run]:
        """Every run folder, oldest first, broken ones included (their status says what is wrong)."""
        try:
            entries = [p for p in self.root.iterdir() if not p.name.startswith(HIDDEN) and p.is_dir()]
        except FileNotFoundError:
            return []
        except NotADirectoryError:
            raise self._blocked() from None
        keyed = []
        for path in entries:
            run = Run(path)
            try:
                keyed.append(((run.status().created_at, run.id), run))
            except FileNotFoundError:
                continue  # removed while we listed
        return [run for _, run in sorted(keyed, key=lambda pair: pair[0])]

    def get(self, ref: str) -> Run:
        """A run by id, unique id prefix, or name (the newest run of that name).

        An empty reference is refused: it is a prefix of every id, and
        ``finetui rm "$UNSET"`` must not pick a run.
        """
        ref = ref.strip()
        if not ref:
            raise RunNotFound("no run given: name one by id, id prefix or name (see `finetui runs`)")
        runs = self.list()
        exact = [r for r in runs if r.id == ref]
        if exact:
            return exact[0]
        prefixed = [r for r in runs if r.id.startswith(ref)]
        if len(prefixed) == 1:
            return prefixed[0]
        named = [r for r in runs if self._name(r) == ref]
        if named:
            return named[-1]
        if len(prefixed) > 1:
            raise RunNotFound(f"run {ref!r} is ambiguous, it matches {len(prefixed)} runs: {', '.join(r.id for r in prefixed)}")
        raise RunNotFound(f"no run {ref!r} (see `finetui runs`)")

    @staticmethod
    def _name(run: Run) -> str | None:
        try:
            return run.config().name
        except (BrokenRun, FileNotFoundError):
            return None

    def remove(self, run: Run) -> None:
        """Delete a run folder, all or nothing as the store sees it.

        The folder is first renamed to a hidden name (one atomic step: the run
        is listed whole, or not at all), then deleted. ``RunStoreError`` if the
        rename fails (nothing changed) or the delete stops halfway (the run is
        gone from the list; the message says what is left on disk).
        """
        aside = self.root / f"{HIDDEN}removing-{run.id}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(run.dir, aside)
        except OSError as exc:
            raise RunStoreError(f"cannot remove run {run.id}: {exc.strerror or exc}; nothing was deleted") from None
        if aside.is_symlink():  # a run linked in from elsewhere: the link goes, the folder it points at is the user's
            try:
                aside.unlink()
            except OSError as exc:
                raise RunStoreError(f"run {run.id} is removed from the list, but the link {aside} could not be deleted ({exc.strerror or exc})") from None
            return
        failures: list[str] = []

        def note(_func: Any, path: str, info: Any) -> None:
            exc = info[1] if isinstance(info, tuple) else info
            failures.append(f"{path}: {getattr(exc, 'strerror', None) or exc}")

        handler = {"onexc": note} if sys.version_info >= (3, 12) else {"onerror": note}
        shutil.rmtree(aside, **handler)
        if failures:
            raise RunStoreError(f"run {run.id} is removed from the list, but {aside} could not be fully deleted ({failures[0]})")
