"""The runs the playground can try, and the picker that lists them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.content import Content
from textual.widgets import Select

from tui.format import short_model, shown
from tui.run_feed import RunsSnapshot


@dataclass(frozen=True)
class RunChoice:
    """A ready run as the picker shows it: its name, its base model (short, and as configured) and its id."""

    id: str
    name: str
    model: str
    base: str = ""

    @property
    def label(self) -> str:
        """Escaped (a name may hold a terminal escape); the pickers show it as Content, never markup."""
        return shown(f"{self.name} · {self.model} · {self.id}")


def ready_runs(snapshot: RunsSnapshot) -> tuple[RunChoice, ...]:
    """The runs of the app's run snapshot whose training finished, newest first.

    A run whose config can't be read is left out: the runs screen reports it.
    """
    return tuple(
        RunChoice(row.id, row.name, short_model(row.model_name), row.model_name)
        for row in snapshot.rows
        if row.state == "ready" and row.name is not None and row.model_name is not None
    )


class RunPicker(Select[str]):
    """A Select of ready runs that keeps the picked run while the list changes under it."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__((), prompt="Pick a ready run", compact=True, id=id)
        self.choices: tuple[RunChoice, ...] = ()

    def set_runs(self, runs: Sequence[RunChoice], pick: str | None = None) -> None:
        """List ``runs``; pick ``pick`` if given and listed, else keep the current run if still listed, else the only one.

        With one ready run there is nothing to choose: a newcomer who
        finished a first run found the playground waiting for a pick.
        """
        keep = pick if pick is not None else (self.value if isinstance(self.value, str) else None)
        if keep is None and len(runs) == 1:
            keep = runs[0].id
        if tuple(runs) != self.choices:
            self.choices = tuple(runs)
            self.set_options((Content(choice.label), choice.id) for choice in runs)
        if keep is not None and any(choice.id == keep for choice in runs) and self.value != keep:
            self.value = keep


#: The versus picker's value for the base model with its adapter off: the usual comparison.
BASELINE = "baseline"


class VersusPicker(Select[str]):
    """What the picked run is compared with: the baseline, or run B, another ready run (A/B)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(((f"{BASELINE} (adapter off)", BASELINE),), value=BASELINE, allow_blank=False, compact=True, id=id)
        self.choices: tuple[RunChoice, ...] = ()

    def set_runs(self, runs: Sequence[RunChoice], a: str | None = None) -> None:
        """List the baseline and ``runs`` but run ``a`` (a run is no B to itself); keep run B while it is listed, else go back to the baseline."""
        keep = self.value
        listed = tuple(c for c in runs if c.id != a)
        if listed != self.choices:
            self.choices = listed
            self.set_options([(f"{BASELINE} (adapter off)", BASELINE), *((Content(f"B: {c.label}"), c.id) for c in listed)])
        self.value = keep if any(c.id == keep for c in listed) else BASELINE

    def chosen(self) -> RunChoice | None:
        """Run B, or None for the baseline."""
        return next((c for c in self.choices if c.id == self.value), None)
