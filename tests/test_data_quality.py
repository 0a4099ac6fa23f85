"""The per-example checks and duplicate keys behind the warnings."""

from __future__ import annotations

import random

import pytest

from engine.data import quality


def slow_near_key(text: str) -> int:
    """The definition: lower-case, drop everything but letters and digits, hash."""
    return quality.text_key(quality.NOT_WORD.sub("", text.lower()))


def test_near_key_matches_its_definition_on_any_text() -> None:
    rng = random.Random(0)
    alphabet = [chr(c) for c in range(128)] + list("éÉßñÑ—“”…\u00a0日本語١٢")
    for _ in range(2000):
        text = "".join(rng.choices(alphabet, k=rng.randint(0, 40)))
        assert quality.near_key(text) == slow_near_key(text), repr(text)
        ascii_only = "".join(c for c in text if c.isascii())
        assert quality.near_key(ascii_only) == slow_near_key(ascii_only), repr(ascii_only)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Hello, world!", "hello world", True),
        ("Hello world", "  HELLO\n\tWORLD...", True),
        ("snake_case", "snake case", True),
        ("Café au lait", "CAFÉ, au lait!", True),
        ("Café", "Cafe", False),
        ("hello world", "hello word", False),
        ("item 1", "item 2", False),
    ],
)
def test_near_key_ignores_case_spacing_and_punctuation_only(a: str, b: str, same: bool) -> None:
    assert (quality.near_key(a) == quality.near_key(b)) is same
    assert quality.text_key(a) != quality.text_key(b)


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("a    b", True),
        ("trailing    ", True),
        ("three   spaces", False),
        ("    leading indentation", False),
        ("line\n        indented", False),
        ("tab\t\t\t\tare not spaces", False),
    ],
)
def test_excess_spaces(text: str, flagged: bool) -> None:
    assert quality.has_excess_spaces(text) is flagged


@pytest.mark.parametrize(
    ("text", "flagged"),
    [("a\n\n\n\nb", True), ("a\n \n\t\n  \nb", True), ("a\n\n\nb", False), ("a\nb\nc\nd", False)],
)
def test_blank_runs(text: str, flagged: bool) -> None:
    assert quality.has_blank_run(text) is flagged


def test_repetitive() -> None:
    rng = random.Random(1)
    prose = " ".join("".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9))) for _ in range(60))
    assert not quality.is_repetitive(prose)
    assert quality.is_repetitive("all work and no play\n" * 20)
    assert not quality.is_repetitive("ab" * 40)  # too short to judge


@pytest.mark.parametrize(
    ("prompt", "completion", "flagged"),
    [
        ("Translate to French: cat", "chat", True),
        ("Count: 1 2", "3", True),
        ("Translate to French: cat", " chat", False),
        ("Question: 2+2?", "4", False),
        ("Answer:", "4", False),
        ("Write a haiku\n", "Autumn moon", False),
        ("", "alone", False),
        ("Café", "É", True),
    ],
)
def test_runs_together(prompt: str, completion: str, flagged: bool) -> None:
    assert quality.runs_together(prompt, completion) is flagged
