"""An example as a parser yields it, and what the parsers learn about the file on the way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from engine.data.examples import Kind, Message


class Raw(NamedTuple):
    """An example as parsed, before cleaning: ``line`` is where it starts.

    ``issues`` holds the codes of the checks this example failed (the chat
    checks, a cut piece); the scan turns them into the report's warnings.
    """

    line: int
    kind: Kind
    text: str = ""
    prompt: str = ""
    completion: str = ""
    messages: tuple[Message, ...] = ()
    tools: tuple[dict[str, Any], ...] = ()
    issues: tuple[str, ...] = ()


@dataclass
class ParseState:
    """What a parser learns about the file as it goes, read by the report.

    ``flavour`` is how the records are laid out (``separator``,
    ``paragraphs``, ``text``, ``prompt_completion``, ``messages``,
    ``sharegpt``, ``alpaca``, ``qa``, ``preference``); the first record
    decides it unless the user forced one.
    """

    flavour: str = ""
    separator_found: bool = False
    joined: int = 0
    """Prompt/completion pairs from two columns given a newline between them, as nothing separated them (``records.PAIR_SEPARATOR``)."""
