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


def _chat_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    out = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=False)
    if hasattr(out, "keys"):
        out = out["input_ids"]
    return list(out)


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
    """Render the chat with the tokenizer's template; label the tokens each assistant turn adds.

    The template is applied to growing prefixes of the conversation, so the
    tokens of turn k are those the k-th prefix adds to the one before; this
    works with any template whose renderings extend one another.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("this model's tokenizer has no chat template, so chat (messages) data can't be formatted")
    turns = [{"role": m.role, "content": m.content} for m in example.messages]
    ids: list[int] = []
    labels: list[int] = []
    for k in range(1, len(turns) + 1):
        prefix = _chat_ids(tokenizer, turns[:k])
        if prefix[: len(ids)] != ids:
            raise ValueError("the chat template renders a conversation differently from its beginning; can't mask turns")
        added = prefix[len(ids) :]
        ids = prefix
        labels += added if turns[k - 1]["role"] == "assistant" else [IGNORE] * len(added)
    return ids, labels
