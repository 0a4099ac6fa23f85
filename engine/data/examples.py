"""What one training example is, whatever file format it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["text", "prompt_completion", "messages"]


@dataclass(frozen=True)
class Message:
    """One chat turn: ``role`` is system, user or assistant."""

    role: str
    content: str


@dataclass(frozen=True)
class Example:
    """One parsed example.

    Exactly one shape is filled in: ``text`` for plain text, ``prompt`` and
    ``completion`` for prompt/completion pairs, or ``messages`` for chats.
    ``index`` counts examples kept after cleaning (from 0); ``line`` is the
    1-based line of the source file where the example starts, so a user can
    find it in an editor.
    """

    index: int
    line: int
    kind: Kind
    text: str = ""
    prompt: str = ""
    completion: str = ""
    messages: tuple[Message, ...] = field(default_factory=tuple)

    def render(self) -> str:
        """The example as one string: what its length and duplicates are measured on."""
        if self.kind == "text":
            return self.text
        if self.kind == "prompt_completion":
            return self.prompt + self.completion
        return "\n".join(f"{m.role}: {m.content}" for m in self.messages)

    @property
    def chars(self) -> int:
        """Length in characters of the example's content."""
        if self.kind == "text":
            return len(self.text)
        if self.kind == "prompt_completion":
            return len(self.prompt) + len(self.completion)
        return sum(len(m.content) for m in self.messages)

    def to_json(self) -> dict[str, object]:
        """The example as ``--json`` prints it."""
        out: dict[str, object] = {"index": self.index, "line": self.line, "kind": self.kind}
        if self.kind == "text":
            out["text"] = self.text
        elif self.kind == "prompt_completion":
            out["prompt"] = self.prompt
            out["completion"] = self.completion
        else:
            out["messages"] = [{"role": m.role, "content": m.content} for m in self.messages]
        return out
