"""Counts in words."""

from __future__ import annotations

from engine.words import counted, plural


def test_one_is_singular_and_every_other_count_plural() -> None:
    assert [plural("line", n) for n in (0, 1, 2)] == ["lines", "line", "lines"]
    assert counted(1, "example") == "1 example" and counted(1200, "example") == "1,200 examples"
