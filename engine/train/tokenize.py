"""Turn examples into token ids and labels, with the loss only where the model should learn.

Plain text is learned whole. For prompt/completion pairs only the completion
carries loss, and for chats only the assistant turns: the prompt and the user's
words are context, not something to imitate. Masked positions get label -100,
which the loss ignores.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.data import Example
from engine.train.templates import TemplateError, render, template_or_default, turn_json

if TYPE_CHECKING:
    import numpy as np

IGNORE = -100


@dataclass(frozen=True)
class Encoded:
    """One example as ids and labels of equal length: lists from ``encode``, int32 arrays from ``engine.train.sequences``."""

    input_ids: list[int] | np.ndarray
    labels: list[int] | np.ndarray

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def trained_tokens(self) -> int:
        if isinstance(self.labels, list):
            return sum(1 for label in self.labels if label != IGNORE)
        return int((self.labels != IGNORE).sum())


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


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
    return list(iter_windows(example, tokenizer, max_len))


def iter_windows(example: Example, tokenizer: Any, max_len: int) -> Iterator[Encoded]:
    """``encode_windows`` one window at a time: a long text is never held as one list of ids.

    Its ids come in pieces (``text_ids``), and each window is handed on as
    soon as it is full.
    """
    if example.kind != "text":
        yield encode(example, tokenizer, max_len)
        return
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    pending: list[int] = list(bos)
    windowed = False  # a first window was full and more followed: the text is split into windows
    for piece in itertools.chain(text_ids(tokenizer, example.text), [eos]):
        pending += piece
        while len(pending) > max_len:
            window, pending = pending[:max_len], pending[max_len:]
            if len(window) < 2:
                return
            windowed = True
            yield Encoded(window, [IGNORE] + window[1:])
    if windowed and len(pending) < 2:
        return  # a last window of one token has nothing to predict
    yield Encoded(pending, [IGNORE] + pending[1:])


#: Plain text longer than this many characters is tokenized a window of this size at a time (``text_ids``).
CHUNK_CHARS = 1 << 16
#: Characters at the end of each window where the next one must agree with it, so that the pieces join exactly.
OVERLAP_CHARS = 4096
#: Characters before the cut that the next window reads as context: a tokenizer that marks the start of a text
#: (SentencePiece's leading space) marks it there, not at the cut.
CONTEXT_CHARS = 512
#: Cut points tried in the overlap before cutting where no agreement was found.
CUT_TRIES = 4


def _tokens(tokenizer: Any, text: str, at: int) -> tuple[list[int], list[int], list[int]]:
    """Ids of ``text`` (found at ``at`` in the whole) with each token's start and end there."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    return list(enc["input_ids"]), [at + a for a, _ in offsets], [at + b for _, b in offsets]


def text_ids(tokenizer: Any, text: str) -> Iterator[list[int]]:
    """The ids of ``text`` in pieces whose concatenation is the ids of the whole text.

    A text of megabytes (a file with no separator, a huge JSON field) tokenized
    at once is a list of millions of ints, and the fast tokenizer's own
    encoding beside it; in windows of ``CHUNK_CHARS`` it never is. A window
    is cut at a token boundary in its overlap with the next, which reads from
    a little before the cut: the pieces join where both windows tokenize the
    overlap the same, so the ids are those of the whole text. A text where
    no cut agrees within ``CUT_TRIES`` (thousands of characters with no
    break at all) is cut at a token boundary anyway: no character is lost,
    only the tokens at that one cut may differ from a single pass.
    """
    span = CHUNK_CHARS + OVERLAP_CHARS
    if len(text) <= span or not getattr(tokenizer, "is_fast", False):
        yield _ids(tokenizer, text)
        return
    right = span  # the window reads text up to here; its tokens before index `first` are context
    ids, starts, ends = _tokens(tokenizer, text[:right], 0)
    first = 0
    while right < len(text):
        safe = right - OVERLAP_CHARS // 2  # tokens ending past here may change once the text goes on
        joined = None
        for attempt in range(CUT_TRIES):
            cut = bisect.bisect_left(starts, right - OVERLAP_CHARS + attempt * OVERLAP_CHARS // (2 * CUT_TRIES), lo=first)
            if cut >= len(ids) or ends[cut] > safe:
                continue
            context = max(0, starts[cut] - CONTEXT_CHARS)
            following = _tokens(tokenizer, text[context : starts[cut] + span], context)
            at = bisect.bisect_left(following[1], starts[cut])
            n = bisect.bisect_right(ends, safe, lo=cut) - cut
            if following[0][at : at + n] == ids[cut : cut + n] and following[1][at : at + n] == starts[cut : cut + n]:
                joined = cut, following, at, starts[cut] + span
                break
        if joined is None:
            joined = _forced_cut(tokenizer, text, starts, ends, first, right - OVERLAP_CHARS)
        cut, (ids_next, starts_next, ends_next), at, right = joined
        yield ids[first:cut]
        ids, starts, ends, first = ids_next, starts_next, ends_next, at
    yield ids[first:]


def _forced_cut(tokenizer: Any, text: str, starts: list[int], ends: list[int], first: int, before: int) -> tuple[int, Any, int, int]:
    """Where no cut agrees: the last token boundary before ``before`` with no gap between the tokens, and the window read from there."""
    cut = bisect.bisect_right(starts, before, lo=first + 1) - 1
    while cut > first + 1 and ends[cut - 1] != starts[cut]:
        cut -= 1
    cut = max(cut, first + 1)
    at = ends[cut - 1]
    span = CHUNK_CHARS + OVERLAP_CHARS
    return cut, _tokens(tokenizer, text[at : at + span], at), 0, at + span


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
