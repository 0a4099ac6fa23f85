"""The sampling settings of a generation, as one row of compact, validated inputs.

The ranges are the inference server's own (``engine.infer.requests``), so a
value the server would refuse is marked here, as it is typed, and never sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.validation import Function, Integer, Number, Validator
from textual.widgets import Input, Label, Static

from engine.infer.requests import GenerateRequest

G = GenerateRequest


@dataclass(frozen=True)
class Setting:
    """One input: the request field it fills, its label, default, width and checks."""

    field: str
    label: str
    default: str
    width: int
    validators: tuple[Validator, ...]
    parse: type[int] | type[float]
    placeholder: str = ""
    optional: bool = False


def _top_p_above_zero(value: str) -> bool:
    try:
        return float(value) > 0
    except ValueError:
        return True  # Number reports a value that is not a number


SETTINGS: tuple[Setting, ...] = (
    Setting("max_tokens", "max tokens", str(G.max_tokens), 6,
            (Integer(minimum=1, failure_description="max tokens: a whole number, 1 or more"),), int),
    Setting("temperature", "temp", f"{G.temperature:g}", 5,
            (Number(minimum=0, maximum=100, failure_description="temperature: a number from 0 (greedy) to 100"),), float),
    Setting("top_k", "top-k", str(G.top_k), 5,
            (Integer(minimum=0, failure_description="top-k: a whole number, 0 (off) or more"),), int),
    Setting("top_p", "top-p", f"{G.top_p:g}", 5,
            (Number(minimum=0, maximum=1, failure_description="top-p: a number above 0, at most 1 (1 is off)"),
             Function(_top_p_above_zero, "top-p: a number above 0, at most 1 (1 is off)")), float),
    Setting("seed", "seed", "", 11,
            (Integer(minimum=0, maximum=2**63 - 1, failure_description="seed: a whole number, 0 or more, or empty for a random one"),),
            int, placeholder="random", optional=True),
)


class SamplingForm(Vertical):
    """The settings row and a line under it that says what is wrong, if anything."""

    DEFAULT_CSS = """
    SamplingForm { height: auto; }
    SamplingForm #sampling-row { height: 1; }
    SamplingForm .sampling-label { color: $text-muted; padding-right: 1; }
    SamplingForm Input { margin-right: 1; }
    SamplingForm Input.-invalid { background-tint: $error 40%; }
    SamplingForm #sampling-message { height: 1; color: $text-muted; }
    SamplingForm #sampling-message.-error { color: $text-error; }
    """

    def __init__(self, hint: str = "", *, id: str | None = None) -> None:
        """``hint`` shows under the row while every value is fine."""
        super().__init__(id=id)
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Horizontal(id="sampling-row"):
            for setting in SETTINGS:
                yield Label(setting.label, classes="sampling-label")
                input = Input(
                    setting.default,
                    placeholder=setting.placeholder,
                    validators=list(setting.validators),
                    valid_empty=setting.optional,
                    validate_on=["changed", "submitted"],
                    compact=True,
                    id=f"sampling-{setting.field.replace('_', '-')}",
                )
                input.styles.width = setting.width
                yield input
        yield Static(self.hint, id="sampling-message", markup=False)

    def input_for(self, field: str) -> Input:
        return self.query_one(f"#sampling-{field.replace('_', '-')}", Input)

    def settings(self) -> dict[str, Any] | None:
        """The request fields, or None after marking the bad inputs and saying what is wrong with the first."""
        if self._check():
            return None
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            value = self.input_for(setting.field).value.strip()
            if value:
                values[setting.field] = setting.parse(value)
        return values

    def on_input_changed(self, event: Input.Changed) -> None:
        """Say what is wrong as it is typed; the inputs mark themselves."""
        event.stop()
        self._check()

    def _check(self) -> list[str]:
        """Validate every input (which marks it), show the first problem or the hint; returns the problems."""
        problems = []
        for setting in SETTINGS:
            input = self.input_for(setting.field)
            result = input.validate(input.value.strip())
            if result is not None and not result.is_valid:
                problems.append(result.failure_descriptions[0])
        message = self.query_one("#sampling-message", Static)
        message.update(problems[0] if problems else self.hint)
        message.set_class(bool(problems), "-error")
        return problems

