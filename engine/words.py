"""Counts in words, for the messages people read: "1 line", "2 lines"."""

from __future__ import annotations


def plural(noun: str, count: int) -> str:
    """``noun`` as it reads after ``count`` (a noun whose plural takes an s)."""
    return noun if count == 1 else f"{noun}s"


def counted(count: int, noun: str) -> str:
    """``count`` and its noun: "1 example", "1,200 examples"."""
    return f"{count:,} {plural(noun, count)}"
