"""Messages that the playground's workers post to its screen.

Workers block on the inference process in threads and never touch widgets:
they report through these, and the screen's handlers update the widgets.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from engine.infer import InferenceClient
from engine.infer.protocol import Done, Scores
from tui.widgets.playground_runs import RunChoice


@dataclass
class RunsListed(Message):
    """The runs that can be tried now (ready, with an adapter), oldest first."""

    runs: tuple[RunChoice, ...]


@dataclass
class InferenceStatus(Message):
    """What the inference process is doing, in a few words; ``busy`` while it loads."""

    text: str
    busy: bool = False


@dataclass
class ClientStarted(Message):
    """A new inference process is up; the screen watches it from now on."""

    client: InferenceClient


@dataclass
class ServerDied(Message):
    """``client``'s process ended without being asked to; ``reason`` has its exit code and last words."""

    client: InferenceClient
    reason: str


@dataclass
class RequestSent(Message):
    """A generate or likelihood request is on its way, as ``rid`` (Stop cancels it)."""

    kind: str
    rid: str


@dataclass
class RequestEnded(Message):
    """The request is over: ``code`` and ``error`` say why when it failed (protocol error codes)."""

    kind: str
    code: str | None = None
    error: str | None = None


@dataclass
class StreamStarted(Message):
    """``model`` (baseline, custom or versus) starts generating; ``prompt`` is what it reads (its template applied)."""

    model: str
    prompt: str | None = None


@dataclass
class StreamText(Message):
    """All of ``model``'s text so far; a newer one for the same model replaces a pending one."""

    model: str
    text: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StreamText) and message.model == self.model


@dataclass
class StreamDone(Message):
    """The ``Done`` reply of one model: its text, tokens, speed, finish reason, seed."""

    done: Done


@dataclass
class ScoresReady(Message):
    """The ``Scores`` replies of a likelihood request, by model."""

    scores: dict[str, Scores]
