"""The sample datasets pass ``finetui inspect`` with no warnings, and have the shape the demos need."""

from __future__ import annotations

import json

import pytest

from engine.data import DataSpec, scan
from engine.paths import SAMPLE_DATA

SEPARATOR = "--SEPARATOR--"


@pytest.mark.parametrize(
    ("name", "separator", "flavour", "at_least"),
    [
        ("haiku.txt", SEPARATOR, "separator", 200),
        ("shakespeare.txt", None, "paragraphs", 200),
        ("facts.jsonl", None, "prompt_completion", 300),
    ],
)
def test_sample_file_has_no_warnings(name: str, separator: str | None, flavour: str, at_least: int) -> None:
    report = scan(DataSpec(SAMPLE_DATA / name, separator=separator), preview=0)
    assert [w.code for w in report.warnings] == []
    assert report.flavour == flavour
    assert report.examples >= at_least


def test_haiku_are_three_lines() -> None:
    pieces = [p.strip() for p in (SAMPLE_DATA / "haiku.txt").read_text(encoding="utf-8").split(SEPARATOR)]
    assert len(pieces) >= 200
    assert all(len(p.splitlines()) == 3 for p in pieces)


def test_shakespeare_has_no_separator_and_is_big_enough() -> None:
    text = (SAMPLE_DATA / "shakespeare.txt").read_text(encoding="utf-8")
    assert SEPARATOR not in text
    assert len(text.encode("utf-8")) > 100_000


def test_facts_teach_a_few_dozen_facts_in_many_phrasings() -> None:
    rows = [json.loads(line) for line in (SAMPLE_DATA / "facts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert set().union(*(r.keys() for r in rows)) == {"prompt", "completion"}
    assert all(r["completion"].startswith(" ") and not r["completion"].startswith("  ") for r in rows)
    facts = {r["completion"] for r in rows}
    assert 30 <= len(facts) <= 50
    assert min(sum(r["completion"] == f for r in rows) for f in facts) >= 5  # several phrasings of each
    assert len({r["prompt"] for r in rows}) == len(rows)
