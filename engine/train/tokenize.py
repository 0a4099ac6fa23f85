"""Turn examples into token ids and labels, with the loss only where the model should learn.

Plain text is learned whole. For prompt/completion pairs only the completion
carries loss, and for chats only the assistant turns: the prompt and the user's
words are context, not something to imitate. Masked positions get label -100,
which the loss ignores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.data import Example
from engine.train.templates import render, template_or_default, turn_json

IGNORE = -100


@dataclass(frozen=True)
class Encoded:
    """One example as ids and labels of equal length."""

    input_ids: list[int]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def trained_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


class TemplateError(ValueError):
    """The model's chat template can't render an example (its tools, its tool calls) as written."""


def chat_template(tokenizer: Any) -> str:
    """The tokenizer's own chat template, or ``DEFAULT_TEMPLATE`` when it has none."""
    return template_or_default(tokenizer)[0]


def _render(tokenizer: Any, turns: list[dict[str, Any]], tools: list[dict[str, Any]] | None, tokenize: bool, generation_prompt: bool = False) -> Any:
    return render(tokenizer, chat_template(tokenizer), turns, tools, tokenize=tokenize, generation_prompt=generation_prompt)


def _where(example: Example) -> str:
    return f"example #{example.index} (line {example.line})"


def check_template(example: Example, tokenizer: Any) -> None:
    """Raise ``TemplateError`` if the model's chat template drops the example's tools or tool calls.

    A template that ignores ``tools`` renders the same text with and without
    them; one that ignores ``tool_calls`` never writes the called function's
    name. Training on such a rendering would teach calls with no tools.
    """
    turns = [turn_json(m) for m in example.messages]
    if example.tools:
        with_tools = _render(tokenizer, turns, [dict(t) for t in example.tools], tokenize=False)
        if with_tools == _render(tokenizer, turns, None, tokenize=False):
            raise TemplateError(f"{_where(example)} has tools, but this model's chat template doesn't render tools; choose a model whose template does")
    calls = [c["function"]["name"] for m in example.messages for c in m.tool_calls]
    if calls:
        text = _render(tokenizer, turns, [dict(t) for t in example.tools], tokenize=False)
        if not all(name in text for name in calls):
            raise TemplateError(f"{_where(example)} has tool calls, but this model's chat template doesn't render them; choose a model whose template does")


def encode(example: Example, tokenizer: Any, max_len: int) -> Encoded:
    """Ids and labels for one example, truncated to ``max_len`` tokens."""
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    if example.kind == "text":
        ids = bos + _ids(tokenizer, example.text) + eos
        labels = [IGNORE] * len(bos) + ids[len(bos) :]
    elif example.kind == "prompt_completion":
        prompt = bos + _ids(tokenizer, example.prompt)
        completion = _ids(tokenizer, example.completion) + eos
        ids = prompt + completion
        labels = [IGNORE] * len(prompt) + completion
    else:
        ids, labels = _encode_chat(example, tokenizer)
    # The first token is never predicted within its example; masking it also keeps a
    # packed row from teaching the previous example's end to predict this one's start.
    labels = [IGNORE] + labels[1:]
    return Encoded(ids[:max_len], labels[:max_len])


def encode_windows(example: Example, tokenizer: Any, max_len: int) -> list[Encoded]:
    """Plain text longer than ``max_len`` as consecutive windows, so no text is thrown away.

    A long passage (a packed run of paragraphs, a chapter) is still text to
    learn from, only longer than the model reads at once: each window is a
    sequence of its own, its first token unlabelled like any example's.
    Prompt/completion pairs and chats are cut at ``max_len`` instead; a
    window of a completion without its prompt would teach the wrong thing.
    """
    whole = encode(example, tokenizer, max_len=10**9)
    if example.kind != "text" or len(whole) <= max_len:
        return [Encoded(whole.input_ids[:max_len], whole.labels[:max_len])]
    windows = []
    for start in range(0, len(whole), max_len):
        ids = whole.input_ids[start : start + max_len]
        if len(ids) < 2:
            break
        windows.append(Encoded(ids, [IGNORE] + ids[1:]))
    return windows


def _encode_chat(example: Example, tokenizer: Any) -> tuple[list[int], list[int]]:
    """Render the chat with the model's template (tools included); label the tokens each trained turn adds.

    The template is applied to growing prefixes of the conversation, so the
    tokens of turn k are those the k-th prefix adds to the one before; this
    works with any template whose renderings extend one another. Assistant
    turns with ``weight`` 0 are context, like the user's. An assistant
    turn's header (the template's generation prompt, "<|assistant|>",
    "Assistant:") is context too: the playground writes it into the prompt
    (``engine.train.templates.prompt_ids``), so the model learns what follows
    it, through the end-of-turn token where generation stops.
    """
    check_template(example, tokenizer)
    turns = [turn_json(m) for m in example.messages]
    tools = [dict(t) for t in example.tools]
    ids: list[int] = []
    labels: list[int] = []
    for k in range(1, len(turns) + 1):
        prefix = _render(tokenizer, turns[:k], tools, tokenize=True)
        if ids and ids[-1] == tokenizer.eos_token_id and prefix[: len(ids)] != ids and prefix[: len(ids) - 1] == ids[:-1]:
            # Phi-3.5's template ends a chat that stops short of a generation prompt with eos
            # ("{% else %}{{ eos_token }}"): that eos is not in the longer chat, so it is not a turn's token.
            ids, labels = ids[:-1], labels[:-1]
        if prefix[: len(ids)] != ids:
            raise TemplateError(f"{_where(example)}: the chat template renders a conversation differently from its beginning; can't mask turns")
        added = prefix[len(ids) :]
        if example.messages[k - 1].trained:
            header = _header_len(tokenizer, turns[: k - 1], tools, ids, prefix)
            labels += [IGNORE] * header + added[header:]
        else:
            labels += [IGNORE] * len(added)
        ids = prefix
    return ids, labels


def _header_len(tokenizer: Any, before: list[dict[str, Any]], tools: list[dict[str, Any]], ids: list[int], prefix: list[int]) -> int:
    """How many tokens of an assistant turn are the generation prompt: 0 when the template has none, or
    when it renders otherwise than the turn begins (then the whole turn is learned, as before)."""
    if not before:
        return 0
    asked = _render(tokenizer, before, tools, tokenize=True, generation_prompt=True)
    if len(asked) <= len(ids) or asked[: len(ids)] != ids or prefix[: len(asked)] != asked or len(asked) >= len(prefix):
        return 0
    return len(asked) - len(ids)
