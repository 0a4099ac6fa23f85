"""Messages that workers post to the screens that own them.

Workers run in threads and never touch widgets: they report through these
small dataclasses, and the screen's handlers update the widgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from engine.data import Example, Report

if TYPE_CHECKING:  # the estimate module is only needed once a preview counts tokens
    from engine.estimate import ModelFacts, TokenStats


@dataclass
class ExamplesParsed(Message):
    """A batch of the first examples of a scan, in file order, as soon as they are parsed."""

    examples: tuple[Example, ...]


@dataclass
class ScanProgress(Message):
    """How far a scan has read; a burst of these collapses into the newest one."""

    done: int
    total: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ScanProgress)


@dataclass
class ScanDone(Message):
    """The scan read the whole file; ``note`` is a problem worth telling but not failing for."""

    report: Report
    note: str = ""


@dataclass
class ScanFailed(Message):
    """The file can't be used: ``error`` is the one-line ``DataError`` text."""

    error: str


@dataclass
class TokensProgress(Message):
    """How many examples have been counted in tokens so far; a burst collapses into the newest."""

    done: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TokensProgress)


@dataclass
class TokensCounted(Message):
    """The data's lengths in a model's tokens (``facts`` says which model)."""

    facts: ModelFacts
    tokens: TokenStats
