"""One streaming pass over a data file that produces the validation report.

Memory stays bounded by the largest example plus 16 bytes of hash keys per
example (for duplicates and the split), whatever the file's size.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.data import quality
from engine.data.examples import Example
from engine.data.formats import EMPTY_WARNING, DataSpec, detect_format, is_empty, no_examples, parse, to_example
from engine.data.raw import ParseState
from engine.data.reader import Progress, check_readable
from engine.data.report import DataWarning, Report
from engine.data.sniff import sniff_separator
from engine.data.split import DEFAULT_EVAL_FRACTION, eval_mask
from engine.data.stats import LengthAccumulator
from engine.words import counted

if TYPE_CHECKING:
    import numpy as np

#: Below this many examples, separated or structured data is too small to fine-tune well.
MIN_EXAMPLES = 200
#: Below this much text, paragraph-split text is too small to fine-tune well.
MIN_TEXT_CHARS = 100_000
#: Rough characters per token, used only when no tokenizer is given.
CHARS_PER_TOKEN = 4
DEFAULT_MAX_SEQ_LEN = 1024
#: How many examples pass between two checks of ``should_stop``.
STOP_CHECK_EVERY = 256


#: What each check a parser or the scan flags says, by code.
ISSUES = {
    "cut_piece": "pieces over 1,000,000 characters between separators (cut in parts, so memory stays bounded)",
    "no_assistant": "chats with no assistant turn: nothing to learn (dropped)",
    "no_user": "chats with no user turn",
    "empty_content": "turns with empty or missing content",
    "unknown_key": "turns with keys finetui doesn't know (ignored)",
    "system_not_first": "system turns that are not the first turn",
    "same_role_twice": "two turns in a row from the same role",
    "ends_on_user": "chats that end on a user turn (nothing after it is learned)",
    "no_trained_tokens": "examples with no trained tokens left after masking and truncation",
    "escaped_newlines": "text holding literal \\n (backslash n) where newlines were probably meant",
    "runs_together": (
        "prompts and completions that meet mid-word; without a chat template they train as one run of text: "
        "end prompts with a separator (a newline, 'Answer:') or start completions with a space"
    ),
}


class Cancelled(Exception):
    """The caller asked the scan to stop (``should_stop`` returned True)."""


class _Warnings:
    """The report's warnings, created on first use and kept in a fixed order."""

    ORDER = (
        "too_small",
        "separator_suggested",
        "separator_not_found",
        "cut_piece",
        "empty",
        "no_assistant",
        "no_user",
        "empty_content",
        "unknown_key",
        "system_not_first",
        "same_role_twice",
        "ends_on_user",
        "no_trained_tokens",
        "escaped_newlines",
        "runs_together",
        "duplicate",
        "near_duplicate",
        "repetitive",
        "excess_spaces",
        "blank_lines",
        "too_long",
        "no_eval_split",
    )

    def __init__(self) -> None:
        self.by_code: dict[str, DataWarning] = {}

    def add(self, code: str, message: str, index: int | None = None, line: int | None = None) -> None:
        warning = self.by_code.get(code)
        if warning is None:
            warning = self.by_code[code] = DataWarning(code, message)
        warning.add(index, line)

    def listed(self) -> list[DataWarning]:
        return [self.by_code[c] for c in self.ORDER if c in self.by_code]


def _later_copies(keys: np.ndarray) -> np.ndarray:
    """Indices of examples whose key already appeared earlier, in file order."""
    import numpy as np

    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    repeat = np.zeros(len(keys), dtype=bool)
    repeat[1:] = ordered[1:] == ordered[:-1]
    return np.sort(order[repeat])


def scan(
    spec: DataSpec,
    *,
    max_seq_len: int = DEFAULT_MAX_SEQ_LEN,
    count_tokens: Callable[[str], int] | None = None,
    eval_fraction: float = DEFAULT_EVAL_FRACTION,
    seed: int = 0,
    preview: int = 5,
    on_preview: Callable[[Example], None] | None = None,
    on_progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Report:
    """Read ``spec``'s file once and report on it.

    The first ``preview`` examples are kept in the report and handed to
    ``on_preview`` as soon as they are parsed. ``on_progress(done, total)``
    gets bytes read. Raises ``DataError`` on bad input and ``Cancelled``
    when ``should_stop()`` turns true (checked every few hundred examples and
    every megabyte read).
    """
    if max_seq_len < 1:
        raise ValueError(f"max_seq_len must be at least 1, not {max_seq_len}")
    file_bytes = check_readable(spec.path)
    fmt = detect_format(spec)
    state = ParseState()
    warnings = _Warnings()
    chars = LengthAccumulator("chars")
    tokens = LengthAccumulator("tokens")
    exact_keys = array("Q")
    near_keys = array("Q")
    kept: list[Example] = []
    index = 0

    def progress(done: int, total: int) -> None:
        # Called every megabyte read, so a scan stops promptly even inside one huge example.
        if should_stop is not None and should_stop():
            raise Cancelled()
        if on_progress is not None:
            on_progress(done, total)

    first_dropped = None
    for raw in parse(spec, state, progress):
        if should_stop is not None and index % STOP_CHECK_EVERY == 0 and should_stop():
            raise Cancelled()
        if is_empty(raw):
            first_dropped = first_dropped or raw
            if "no_assistant" in raw.issues:
                warnings.add("no_assistant", ISSUES["no_assistant"], line=raw.line)
            else:
                warnings.add("empty", EMPTY_WARNING[raw.kind], line=raw.line)
            continue
        example = to_example(index, raw)
        for code in raw.issues:
            warnings.add(code, ISSUES[code], index, raw.line)
        if not trains_anything(example, max_seq_len):
            warnings.add("no_trained_tokens", ISSUES["no_trained_tokens"], index, raw.line)
        if any(quality.has_escaped_newlines(f) for f in example.fields()):
            warnings.add("escaped_newlines", ISSUES["escaped_newlines"], index, raw.line)
        if example.kind == "prompt_completion" and quality.runs_together(example.prompt, example.completion):
            warnings.add("runs_together", ISSUES["runs_together"], index, raw.line)
        if len(kept) < preview:
            kept.append(example)
            if on_preview is not None:
                on_preview(example)
        text = example.render()
        chars.add(example.chars)
        n_tokens = count_tokens(text) if count_tokens else math.ceil(len(text) / CHARS_PER_TOKEN)
        tokens.add(n_tokens)
        if n_tokens > max_seq_len:
            warnings.add("too_long", f"longer than the max sequence length of {max_seq_len} tokens (they will be truncated)", index)
        if quality.is_repetitive(text):
            warnings.add("repetitive", "highly repetitive examples", index)
        if quality.has_excess_spaces(text):
            warnings.add("excess_spaces", "runs of 4 or more spaces", index)
        if quality.has_blank_run(text):
            warnings.add("blank_lines", "runs of 3 or more blank lines", index)
        exact_keys.append(quality.text_key(text))
        near_keys.append(quality.near_key(text))
        index += 1

    if index == 0:
        raise no_examples(spec.path, first_dropped)
    suggestion = sniff_separator(spec.path) if fmt == "txt" and spec.separator is None else None
    if suggestion is not None:
        warnings.add("separator_suggested", suggestion.describe())
    notes = []
    if state.joined:
        notes.append(
            f"{counted(state.joined, 'pair')} of columns had nothing between the prompt and the completion: each of those prompts "
            "ends with a newline, so the two don't train as one run of text"
        )
    if state.flavour == "preference":
        notes.append("preference data (chosen/rejected): supervised fine-tuning trains on the prompt plus the chosen answer; the rejected answers are not used")
    if spec.separator is not None and fmt == "txt" and not state.separator_found:
        warnings.add("separator_not_found", f"the separator {spec.separator!r} was never found; the whole file is one example")

    import numpy as np  # imported here: the TUI imports this package and must start fast

    exact = np.frombuffer(exact_keys, dtype=np.uint64)
    near = np.frombuffer(near_keys, dtype=np.uint64)
    exact_copies = _later_copies(exact)
    is_exact_copy = np.zeros(index, dtype=bool)
    is_exact_copy[exact_copies] = True
    for i in exact_copies:
        warnings.add("duplicate", "exact duplicates of an earlier example", int(i))
    for i in _later_copies(near):
        if not is_exact_copy[i]:
            warnings.add("near_duplicate", "near duplicates of an earlier example (same words, other case, spacing or punctuation)", int(i))

    if state.flavour == "paragraphs":
        if chars.total < MIN_TEXT_CHARS:
            warnings.add("too_small", f"only {chars.total:,} characters of text; at least {MIN_TEXT_CHARS // 1000} KB is recommended")
    elif index < MIN_EXAMPLES:
        warnings.add("too_small", f"only {counted(index, 'example')}; at least {MIN_EXAMPLES} are recommended")

    mask = eval_mask(near, eval_fraction, seed)
    n_eval = int(mask.sum())
    if n_eval == 0:
        warnings.add("no_eval_split", "too few distinct examples to hold one out for evaluation")

    return Report(
        path=spec.path,
        format=fmt,
        flavour=state.flavour,
        separator=spec.separator if fmt == "txt" else None,
        file_bytes=file_bytes,
        examples=index,
        train=index - n_eval,
        eval=n_eval,
        chars=chars.result(),
        tokens=tokens.result(),
        warnings=warnings.listed(),
        preview=kept,
        max_seq_len=max_seq_len,
        tokens_estimated=count_tokens is None,
        notes=notes,
        suggested_separator=suggestion.separator if suggestion else None,
    )


def trains_anything(example: Example, max_seq_len: int) -> bool:
    """Whether any trained token is left once the context is masked and the example cut at ``max_seq_len``.

    Estimated at 4 characters a token: exact counts need the model's
    tokenizer, which the token preview (``inspect --show-tokens``) uses.
    """
    if example.kind == "text":
        return True
    if example.kind == "prompt_completion":
        return math.ceil(len(example.prompt) / CHARS_PER_TOKEN) + 1 < max_seq_len
    before = 0
    for message in example.messages:
        if message.trained and (message.content.strip() or message.tool_calls):
            return math.ceil(before / CHARS_PER_TOKEN) + 1 < max_seq_len
        before += len(message.text()) + 8  # a few tokens of the template's markup per turn
    return False
