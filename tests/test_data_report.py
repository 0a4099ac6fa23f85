"""The report: counts, sizes, length distributions, and each warning with its count and places."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from engine.data import DataSpec, Report, scan
from engine.data.report import MAX_INDICES, DataWarning

SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]


def distinct_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` different sentences of made-up words: no duplicates, no repetition."""
    rng = random.Random(seed)
    vocab = sorted({"".join(rng.choices(SYLLABLES, k=rng.randint(1, 3))) for _ in range(800)})
    return [f"{i} " + " ".join(rng.choices(vocab, k=rng.randint(8, 30))) + "." for i in range(n)]


def separated(tmp_path: Path, items: list[str], name: str = "d.txt") -> DataSpec:
    path = tmp_path / name
    path.write_text("\n--S--\n".join(items) + "\n", encoding="utf-8")
    return DataSpec(path, separator="--S--")


def codes(report: Report) -> list[str]:
    return [w.code for w in report.warnings]


def whitespace_tokens(text: str) -> int:
    return len(text.split())


# --- counts and lengths -------------------------------------------------------------------------


def test_counts_size_and_char_lengths(tmp_path: Path) -> None:
    items = distinct_texts(300)
    spec = separated(tmp_path, items)
    report = scan(spec)
    lengths = sorted(len(t) for t in items)
    assert report.format == "txt" and report.flavour == "separator"
    assert report.examples == 300
    assert report.file_bytes == spec.path.stat().st_size
    assert report.train + report.eval == 300 and report.eval == 30
    c = report.chars
    assert (c.unit, c.count, c.min, c.max, c.total) == ("chars", 300, lengths[0], lengths[-1], sum(lengths))
    assert c.mean == pytest.approx(sum(lengths) / 300)
    # Percentiles come from ~3% wide buckets.
    assert c.p50 == pytest.approx(lengths[149], rel=0.05)
    assert c.p90 == pytest.approx(lengths[269], rel=0.05)
    assert c.min <= c.p50 <= c.p90 <= c.p99 <= c.max
    assert sum(n for _, _, n in c.histogram) == 300
    assert c.histogram[0][0] == c.min and c.histogram[-1][1] == c.max


def test_tokens_estimated_without_a_tokenizer(tmp_path: Path) -> None:
    items = distinct_texts(50)
    report = scan(separated(tmp_path, items))
    assert report.tokens_estimated is True
    assert report.tokens is not None and report.tokens.unit == "tokens"
    assert report.tokens.total == sum(math.ceil(len(t) / 4) for t in items)


def test_tokens_counted_with_a_tokenizer(tmp_path: Path) -> None:
    items = distinct_texts(50)
    report = scan(separated(tmp_path, items), count_tokens=whitespace_tokens)
    counts = [whitespace_tokens(t) for t in items]
    assert report.tokens_estimated is False
    assert report.tokens is not None
    assert (report.tokens.count, report.tokens.total) == (50, sum(counts))
    assert (report.tokens.min, report.tokens.max) == (min(counts), max(counts))


def test_report_to_json(tmp_path: Path) -> None:
    report = scan(separated(tmp_path, distinct_texts(20) + ["dup"] * 2), preview=2)
    data = json.loads(json.dumps(report.to_json()))
    assert data["format"] == "txt" and data["examples"] == 22
    assert data["train"] + data["eval"] == 22 and data["errors"] == []
    assert [p["index"] for p in data["preview"]] == [0, 1]
    dup = next(w for w in data["warnings"] if w["code"] == "duplicate")
    assert dup["count"] == 1 and dup["indices"] == [21]


def test_preview_is_the_first_examples(tmp_path: Path) -> None:
    items = distinct_texts(30)
    seen = []
    report = scan(separated(tmp_path, items), preview=4, on_preview=seen.append)
    assert [e.text for e in report.preview] == items[:4]
    assert seen == report.preview
    assert scan(separated(tmp_path, items), preview=0).preview == []


# --- warnings -----------------------------------------------------------------------------------


def test_clean_data_has_no_warnings(tmp_path: Path) -> None:
    report = scan(separated(tmp_path, distinct_texts(250)))
    assert report.warnings == []
    jsonl = tmp_path / "d.jsonl"
    halves = [(t[: t.index(" ", 20)], t[t.index(" ", 20) :]) for t in distinct_texts(250, seed=3)]  # the completion starts with the space
    jsonl.write_text("".join(json.dumps({"prompt": p, "completion": c}) + "\n" for p, c in halves))
    assert scan(DataSpec(jsonl)).warnings == []


@pytest.mark.parametrize(("n", "warned"), [(199, True), (200, False)])
def test_too_small_structured(tmp_path: Path, n: int, warned: bool) -> None:
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("".join(json.dumps({"text": t}) + "\n" for t in distinct_texts(n)))
    for spec in (separated(tmp_path, distinct_texts(n)), DataSpec(jsonl)):
        report = scan(spec)
        assert (report.warning("too_small") is not None) is warned
        if warned:
            assert report.warning("too_small").count == 1 and "199" in report.warning("too_small").message


def _paragraph_file(tmp_path: Path, chars: int) -> DataSpec:
    items, total = [], 0
    for text in distinct_texts(5000, seed=11):
        if total >= chars:
            break
        items.append(text)
        total += len(text) + 2
    path = tmp_path / "d.txt"
    path.write_text("\n\n".join(items) + "\n")
    return DataSpec(path)


def test_too_small_paragraph_text_is_measured_in_text_not_examples(tmp_path: Path) -> None:
    small = scan(_paragraph_file(tmp_path, 60_000))
    assert small.flavour == "paragraphs" and small.examples > 20
    assert codes(small) == ["too_small"]
    assert "KB" in small.warning("too_small").message
    big = scan(_paragraph_file(tmp_path, 120_000))
    assert big.examples < 200  # fewer than 200 examples, yet big enough
    assert big.warnings == []


def test_excess_spaces(tmp_path: Path) -> None:
    items = distinct_texts(250)
    items[3] = "padded     like a table"
    items[200] = "end of line    \nnext"
    items[7] = "    indented code is fine\n        also here"
    report = scan(separated(tmp_path, items))
    w = report.warning("excess_spaces")
    assert w is not None and (w.count, w.indices) == (2, [3, 200])
    assert codes(report) == ["excess_spaces"]


def test_prompts_and_completions_that_run_together_are_listed(tmp_path: Path) -> None:
    rows = [{"prompt": f"{text}\nAnswer:", "completion": f" {i}"} for i, text in enumerate(distinct_texts(250))]
    rows[4] = {"prompt": "Translate to French: cat", "completion": "chat"}
    rows[9] = {"prompt": "Count on: 1 2", "completion": "3"}
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    report = scan(DataSpec(path))
    w = report.warning("runs_together")
    assert w is not None and (w.count, w.indices, w.lines) == (2, [4, 9], [5, 10])
    assert codes(report) == ["runs_together"] and "meet mid-word" in w.message


def test_blank_line_runs(tmp_path: Path) -> None:
    items = distinct_texts(250)
    items[10] = "top\n\n\n\nbottom"
    items[11] = "two blank lines\n\n\nare fine"
    items[12] = "spaces count as blank\n \n\t\n  \nend"
    report = scan(separated(tmp_path, items))
    w = report.warning("blank_lines")
    assert w is not None and (w.count, w.indices) == (2, [10, 12])
    assert codes(report) == ["blank_lines"]


def test_exact_and_near_duplicates(tmp_path: Path) -> None:
    items = distinct_texts(250)
    items[50] = items[2]
    items[120] = items[2]
    items[60] = "  " + items[5].upper().replace(" ", "  ,") + "!!"
    items[61] = items[60]  # an exact copy of a near duplicate
    report = scan(separated(tmp_path, items))
    # The copy of the near duplicate is an exact duplicate (of 60), not a second near one.
    assert (report.warning("duplicate").count, report.warning("duplicate").indices) == (3, [50, 61, 120])
    assert (report.warning("near_duplicate").count, report.warning("near_duplicate").indices) == (1, [60])
    assert codes(report) == ["duplicate", "near_duplicate"]


def test_repetitive(tmp_path: Path) -> None:
    items = distinct_texts(250)
    items[4] = "the same line again\n" * 30
    items[9] = "ha" * 200
    items[13] = "short " * 10  # too short to compress, but one word ten times
    items[14] = ("la " * 40)[:95]  # the case: 95 characters of la la la
    items[15] = "a short line of words that are all different"  # short and fine
    report = scan(separated(tmp_path, items))
    w = report.warning("repetitive")
    assert w is not None and (w.count, w.indices) == (4, [4, 9, 13, 14])


def test_empty_examples_are_dropped_and_reported_by_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    rows = [{"prompt": f"q{i}?", "completion": f"answer number {i}"} for i in range(250)]
    rows[3]["completion"] = ""
    rows[100]["completion"] = "  \n "
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = scan(DataSpec(path))
    w = report.warning("empty")
    assert w is not None and (w.count, w.lines, w.indices) == (2, [4, 101], [])
    assert report.examples == 248
    assert codes(report) == ["empty"]
    # Kept examples are numbered without gaps; lines still point into the file.
    assert [(e.index, e.line) for e in report.preview] == [(0, 1), (1, 2), (2, 3), (3, 5), (4, 6)]


def test_empty_pieces_between_separators(tmp_path: Path) -> None:
    path = tmp_path / "d.txt"
    path.write_text("a\n--S--\n\n--S--\nb\n--S----S--\nc\n")
    report = scan(DataSpec(path, separator="--S--"))
    assert report.examples == 3
    w = report.warning("empty")
    # Placed where the empty piece is: the line after its opening separator, or that line if both are on it.
    assert w is not None and w.count == 2 and w.lines == [3, 6]


def test_too_long_examples(tmp_path: Path) -> None:
    items = distinct_texts(250)
    long_one = " ".join(distinct_texts(40, seed=5))
    items[7] = long_one
    items[77] = long_one[::-1]
    report = scan(separated(tmp_path, items), count_tokens=whitespace_tokens, max_seq_len=100)
    expected = [i for i, t in enumerate(items) if len(t.split()) > 100]
    assert expected == [7, 77]
    w = report.warning("too_long")
    assert w is not None and (w.count, w.indices) == (2, expected)
    assert "100" in w.message and "truncated" in w.message
    # The limit itself is fine; one token more is too long.
    items[20] = " ".join(f"w{i}" for i in range(100))
    items[21] = " ".join(f"w{i}" for i in range(101))
    at_limit = scan(separated(tmp_path, items), count_tokens=whitespace_tokens, max_seq_len=100)
    assert at_limit.warning("too_long").indices == [7, 21, 77]
    # Estimated tokens (chars / 4) when no tokenizer is given.
    estimated = scan(separated(tmp_path, items), max_seq_len=60)
    assert estimated.warning("too_long").indices == [i for i, t in enumerate(items) if math.ceil(len(t) / 4) > 60]


def test_separator_not_found(tmp_path: Path) -> None:
    path = tmp_path / "d.txt"
    path.write_text("\n\n".join(distinct_texts(20)))
    report = scan(DataSpec(path, separator="<|end|>"))
    w = report.warning("separator_not_found")
    assert w is not None and w.count == 1 and "<|end|>" in w.message
    assert report.examples == 1
    assert scan(DataSpec(path)).warning("separator_not_found") is None


def test_counts_stay_exact_past_the_kept_indices(tmp_path: Path) -> None:
    items = distinct_texts(10) + ["same again"] * (MAX_INDICES + 50)
    report = scan(separated(tmp_path, items))
    w = report.warning("duplicate")
    assert w.count == MAX_INDICES + 49
    assert len(w.indices) == MAX_INDICES and w.indices[:2] == [11, 12]


def test_warnings_are_listed_in_a_fixed_order(tmp_path: Path) -> None:
    items = distinct_texts(20)
    items[1] = items[0]
    items[2] = "x" + "     " * 30 + "y"
    report = scan(separated(tmp_path, items))
    assert codes(report) == ["too_small", "duplicate", "repetitive", "excess_spaces"]


def test_a_warning_names_its_places_in_words() -> None:
    one = DataWarning("empty", "empty examples (dropped)")
    one.add(line=1)
    assert one.describe() == "empty examples (dropped) (line 1)"
    several = DataWarning("duplicate", "exact duplicates of an earlier example")
    for index in range(10):
        several.add(index=index, line=index + 1)
    assert several.describe(limit=3) == "exact duplicates of an earlier example (examples 0, 1, 2 ...)"
    assert DataWarning("too_small", "only 1 example").describe() == "only 1 example"


@pytest.mark.parametrize(
    ("lines", "said"),
    [
        ('{"prompt": "q", "completion": " "}\n{"prompt": "r", "completion": "s"}\n', "answer (the completion) is empty"),
        ('{"instruction": "q", "output": ""}\n{"instruction": "r", "output": "s"}\n', "answer (the assistant's turns) is empty"),
    ],
)
def test_the_empty_warning_says_what_the_dropped_example_lacks(tmp_path: Path, lines: str, said: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(lines)
    warning = scan(DataSpec(path)).warning("empty")
    assert warning is not None and warning.lines == [1] and said in warning.describe()
