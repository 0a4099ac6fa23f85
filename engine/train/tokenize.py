"""Turn examples into token ids and labels, with the loss only where the model should learn.

Plain text is learned whole. For prompt/completion pairs only the completion
carries loss, and for chats only the assistant turns: the prompt and the user's
words are context, not something to imitate. Masked positions get label -100,
which the loss ignores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.data import Example, Message

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


#: The chat template used when a model's tokenizer has none (the bundled finetui-tiny, base models):
#: plain "User: ... / Assistant: ..." lines, with the tools and tool calls written out, so chat data
#: trains on any model. Each turn's rendering extends the one before, as the turn masking needs.
FALLBACK_TEMPLATE = (
    "{% if tools %}Tools:\n{% for tool in tools %}{{ tool | tojson }}\n{% endfor %}\n{% endif %}"
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}System: {{ m['content'] }}\n"
    "{% elif m['role'] == 'user' %}User: {{ m['content'] }}\n"
    "{% elif m['role'] == 'tool' %}Tool result: {{ m['content'] }}\n"
    "{% else %}Assistant: {{ m['content'] }}"
    "{% for call in m.get('tool_calls') or [] %}[call {{ call['function']['name'] }}({{ call['function']['arguments'] | tojson }})]{% endfor %}"
    "{{ eos_token }}\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)


class TemplateError(ValueError):
    """The model's chat template can't render an example (its tools, its tool calls) as written."""


def chat_template(tokenizer: Any) -> str:
    """The tokenizer's own chat template, or ``FALLBACK_TEMPLATE`` when it has none."""
    return getattr(tokenizer, "chat_template", None) or FALLBACK_TEMPLATE


def _turn(m: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.name is not None:
        out["name"] = m.name
    if m.tool_calls:
        out["tool_calls"] = [dict(call) for call in m.tool_calls]
    if m.tool_call_id is not None:
        out["tool_call_id"] = m.tool_call_id
    return out


def _render(tokenizer: Any, turns: list[dict[str, Any]], tools: list[dict[str, Any]] | None, tokenize: bool) -> Any:
    out = tokenizer.apply_chat_template(
        turns, tools=tools or None, chat_template=chat_template(tokenizer), tokenize=tokenize, add_generation_prompt=False
    )
    if tokenize and hasattr(out, "keys"):
        out = out["input_ids"]
    return list(out) if tokenize else out


def _where(example: Example) -> str:
    return f"example #{example.index} (line {example.line})"


def check_template(example: Example, tokenizer: Any) -> None:
    """Raise ``TemplateError`` if the model's chat template drops the example's tools or tool calls.

    A template that ignores ``tools`` renders the same text with and without
    them; one that ignores ``tool_calls`` never writes the called function's
    name. Training on such a rendering would teach calls with no tools.
    """
    turns = [_turn(m) for m in example.messages]
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
    turns with ``weight`` 0 are context, like the user's.
    """
    check_template(example, tokenizer)
    turns = [_turn(m) for m in example.messages]
    tools = [dict(t) for t in example.tools]
    ids: list[int] = []
    labels: list[int] = []
    for k in range(1, len(turns) + 1):
        prefix = _render(tokenizer, turns[:k], tools, tokenize=True)
        if prefix[: len(ids)] != ids:
            raise TemplateError(f"{_where(example)}: the chat template renders a conversation differently from its beginning; can't mask turns")
        added = prefix[len(ids) :]
        ids = prefix
        labels += added if example.messages[k - 1].trained else [IGNORE] * len(added)
    return ids, labels
