"""What one training example is, whatever file format it came from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["text", "prompt_completion", "messages"]


@dataclass(frozen=True)
class Message:
    """One chat turn: ``role`` is system, user, assistant or tool.

    ``weight`` 0 marks an assistant turn as context only (OpenAI's fine-tuning
    format); ``tool_calls`` holds the calls an assistant turn makes, in
    OpenAI's shape (``{"type": "function", "function": {"name", "arguments"}}``),
    and ``name`` / ``tool_call_id`` are passed on to the chat template.
    """

    role: str
    content: str
    name: str | None = None
    weight: float | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()
    tool_call_id: str | None = None

    @property
    def trained(self) -> bool:
        """Whether training learns this turn: assistant turns not weighted 0."""
        return self.role == "assistant" and self.weight != 0

    def text(self) -> str:
        """The turn's content, with its tool calls written out, for lengths and duplicates."""
        if not self.tool_calls:
            return self.content
        calls = json.dumps(list(self.tool_calls), ensure_ascii=False, sort_keys=True)
        return f"{self.content}{calls}"

    def to_json(self) -> dict[str, object]:
        """The turn as the chat template (and ``--json``) takes it: only the keys that are set."""
        out: dict[str, object] = {"role": self.role, "content": self.content}
        if self.name is not None:
            out["name"] = self.name
        if self.tool_calls:
            out["tool_calls"] = [dict(call) for call in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.weight is not None:
            out["weight"] = self.weight
        return out


@dataclass(frozen=True)
class Example:
    """One parsed example.

    Exactly one shape is filled in: ``text`` for plain text, ``prompt`` and
    ``completion`` for prompt/completion pairs, or ``messages`` for chats
    (with the ``tools`` the conversation may call). ``index`` counts examples
    kept after cleaning (from 0); ``line`` is the 1-based line of the source
    file where the example starts (the row, for Parquet), so a user can find
    it in an editor.
    """

    index: int
    line: int
    kind: Kind
    text: str = ""
    prompt: str = ""
    completion: str = ""
    messages: tuple[Message, ...] = field(default_factory=tuple)
    tools: tuple[dict[str, Any], ...] = ()

    def render(self) -> str:
        """The example as one string: what its length and duplicates are measured on."""
        if self.kind == "text":
            return self.text
        if self.kind == "prompt_completion":
            return self.prompt + self.completion
        return "\n".join(f"{m.role}: {m.text()}" for m in self.messages)

    @property
    def chars(self) -> int:
        """Length in characters of the example's content."""
        if self.kind == "text":
            return len(self.text)
        if self.kind == "prompt_completion":
            return len(self.prompt) + len(self.completion)
        return sum(len(m.text()) for m in self.messages)

    def fields(self) -> list[str]:
        """Every text field of the example, for the checks that look at each one."""
        if self.kind == "text":
            return [self.text]
        if self.kind == "prompt_completion":
            return [self.prompt, self.completion]
        return [m.content for m in self.messages]

    def to_json(self) -> dict[str, object]:
        """The example as ``--json`` prints it."""
        out: dict[str, object] = {"index": self.index, "line": self.line, "kind": self.kind}
        if self.kind == "text":
            out["text"] = self.text
        elif self.kind == "prompt_completion":
            out["prompt"] = self.prompt
            out["completion"] = self.completion
        else:
            out["messages"] = [m.to_json() for m in self.messages]
            if self.tools:
                out["tools"] = [dict(t) for t in self.tools]
        return out
