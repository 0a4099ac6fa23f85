"""Per-example checks behind the report's warnings, and the keys used to find duplicates.

Each check looks at one example's text only, so the scan stays a single
streaming pass; duplicates are found afterwards from compact hash keys.
"""

from __future__ import annotations

import hashlib
import re
import zlib

#: Four or more spaces after a non-space: padding, not indentation.
EXCESS_SPACES = re.compile(r"\S {4,}")
#: Three or more blank lines in a row.
BLANK_RUN = re.compile(r"\n[ \t]*\n[ \t]*\n[ \t]*\n")
#: Characters ignored when comparing for near duplicates.
NOT_WORD = re.compile(r"[\W_]+")
#: The ASCII bytes ``NOT_WORD`` matches: deleting them from ASCII text is the same as the regex, and 20x faster.
_ASCII_NOT_WORD = bytes(c for c in range(128) if NOT_WORD.fullmatch(chr(c)))

#: Examples shorter than this are too short to judge repetition.
REPETITIVE_MIN_CHARS = 100
#: Below ``REPETITIVE_MIN_CHARS``: at least this many words, ...
SHORT_MIN_WORDS = 8
#: ... of which distinct ones are at most a quarter, make an example repetitive.
SHORT_DISTINCT_SHARE = 4
#: Literal ``\\n`` sequences that make text look escaped twice.
ESCAPED_NEWLINES_MIN = 2
#: Compressed size / raw size below which an example counts as highly repetitive.
REPETITIVE_RATIO = 0.3


def text_key(text: str) -> int:
    """A 64-bit key for exact-duplicate detection."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def near_key(text: str) -> int:
    """A 64-bit key equal for texts that differ only in case, spacing or punctuation."""
    if text.isascii():
        kept = text.encode("ascii").lower().translate(None, _ASCII_NOT_WORD)
        return int.from_bytes(hashlib.blake2b(kept, digest_size=8).digest(), "little")
    return text_key(NOT_WORD.sub("", text.lower()))


def has_excess_spaces(text: str) -> bool:
    # The substring test is a cheap filter: most text has no four spaces in a row at all.
    return "    " in text and EXCESS_SPACES.search(text) is not None


def has_blank_run(text: str) -> bool:
    return BLANK_RUN.search(text) is not None


def has_escaped_newlines(text: str) -> bool:
    """Whether the text holds ``\\n`` as two characters, twice or more, and no real newline.

    That is text escaped twice on its way into the file (a JSON string
    inside a JSON string): the model would learn to write backslashes.
    """
    return "\n" not in text and text.count("\\n") >= ESCAPED_NEWLINES_MIN


def runs_together(prompt: str, completion: str) -> bool:
    """Whether a prompt and its completion meet mid-word: a letter or digit on each side, nothing between.

    Without a chat template the two are trained one after the other, so
    the model learns to go on from the prompt's last word with no break
    (``... in French: cat`` then ``chat``); a space, newline or mark on
    either side is the separator it can learn instead.
    """
    return bool(prompt) and bool(completion) and prompt[-1].isalnum() and completion[0].isalnum()


def is_repetitive(text: str) -> bool:
    """Whether the text compresses so well that it is mostly repeats of itself.

    Natural prose compresses to about half its size with zlib; a line
    pasted many times, or one word over and over, compresses far below
    ``REPETITIVE_RATIO``. Text too short for that (``la la la`` at 95
    characters) counts when a few words make up all of it.
    """
    if len(text) < REPETITIVE_MIN_CHARS:
        words = text.split()
        return len(words) >= SHORT_MIN_WORDS and len(set(words)) * SHORT_DISTINCT_SHARE <= len(words)
    raw = text.encode("utf-8")
    return len(zlib.compress(raw, 1)) / len(raw) < REPETITIVE_RATIO
