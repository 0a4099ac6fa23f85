"""The runs the playground can try, and the picker that lists them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from textual.widgets import Select

from engine.runs import RunStore
from engine.runs.process import refresh


@dataclass(frozen=True)
class RunChoice:
    """A ready run as the picker shows it: its name, its base model and its id."""

    id: str
    name: str
    model: str

    @property
    def label(self) -> str:
        return f"{self.name} · {self.model} · {self.id}"


def short_model(name: str) -> str:
    """A model as people call it: a local folder by its last part, a hub id or bundled name as it is."""
    path = PurePath(name)
    return path.name if path.is_absolute() or name.startswith(".") else name


def ready_runs(store: RunStore | None = None) -> tuple[RunChoice, ...]:
    """The runs whose training finished, newest first; reads the files (and spots dead processes), so call it in a worker.

    A run folder that can't be read is left out: the runs screen reports it.
    """
    choices = []
    for run in reversed((store or RunStore()).list()):
        try:
            if refresh(run).state != "ready":
                continue
            config = run.config()
        except (OSError, ValueError, KeyError):
            continue
        choices.append(RunChoice(run.id, config.name, short_model(config.model.name)))
    return tuple(choices)


class RunPicker(Select[str]):
    """A Select of ready runs that keeps the picked run while the list changes under it."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__((), prompt="Pick a ready run", compact=True, id=id)
        self.choices: tuple[RunChoice, ...] = ()

    def set_runs(self, runs: Sequence[RunChoice], pick: str | None = None) -> None:
        """List ``runs``; pick ``pick`` if given and listed, else keep the current run if still listed."""
        keep = pick if pick is not None else (self.value if isinstance(self.value, str) else None)
        if tuple(runs) != self.choices:
            self.choices = tuple(runs)
            self.set_options((choice.label, choice.id) for choice in runs)
        if keep is not None and any(choice.id == keep for choice in runs) and self.value != keep:
            self.value = keep
