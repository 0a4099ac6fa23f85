"""Hostile files: each used to lose data in silence, crash with a traceback, hang or fill memory.

Every test here failed before its fix; each now expects a one-line ``DataError``
naming the line, or bounded examples.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from engine.data import DataError, DataSpec, iter_examples, scan
from engine.data.display import escape_controls
from engine.data.formats import TARGET_CHARS
from engine.data.parsers import MAX_PIECE_CHARS
from engine.data.reader import CHUNK_BYTES


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def error_of(spec: DataSpec) -> DataError:
    with pytest.raises(DataError) as err:
        scan(spec)
    assert "\n" not in str(err.value)
    return err.value


# --- CSV/TSV: no silent cut ----------------------------------------------------------------------


def test_csv_row_with_more_cells_than_the_header_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "prompt,completion\nWhat?,Fine\nHow many?,About 1,000 people\n")
    err = error_of(DataSpec(path))
    assert err.line == 3 and "3 cells" in err.message and "'000 people'" in err.message


def test_csv_row_past_a_one_column_header_counts_in_words(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "text\nHello there\nHello, there\n")
    err = error_of(DataSpec(path))
    assert err.line == 3 and "the row has 2 cells but the header has 1 column (" in err.message


def test_tsv_tab_inside_a_value_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "d.tsv", "prompt\tcompletion\nWhat?\tFine\nWhy?\tBecause\tof this\n")
    err = error_of(DataSpec(path))
    assert err.line == 3 and "quote the values that hold a tab" in err.message


def test_unclosed_quote_names_the_line_where_it_opened(tmp_path: Path) -> None:
    rows = [f"question {i},answer {i}" for i in range(300)]
    rows[4] = '"question 4,answer 4'  # the quote opens on line 6 (header is line 1) and never closes
    path = write(tmp_path / "d.csv", "prompt,completion\n" + "\n".join(rows) + "\n")
    err = error_of(DataSpec(path))
    assert err.line == 6 and "quote" in err.message and "too few columns" not in err.message


def test_quote_closed_in_the_middle_of_a_value_is_an_error(tmp_path: Path) -> None:
    rows = [f"question {i},answer {i}" for i in range(300)]
    rows[4] = '"question 4,answer 4'
    rows[60] = '"quoted" question,answer'  # closes the quote opened on line 6, far too late
    path = write(tmp_path / "d.csv", "prompt,completion\n" + "\n".join(rows) + "\n")
    err = error_of(DataSpec(path))
    assert err.line == 6 and "never closed" in err.message


# --- JSON Lines that crashed with a traceback ------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "words"),
    [
        ('{"text": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested"),
        ('{"text": "a", "n": ' + "7" * 5000 + "}", "malformed JSON"),
        ('{"text": "\\ud800 lone"}', "surrogate"),
    ],
    ids=["deep_nesting", "huge_integer", "lone_surrogate"],
)
@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_json_that_crashed_is_a_one_line_error(tmp_path: Path, record: str, words: str, suffix: str) -> None:
    good = '{"text": "fine"}'
    body = f"{good}\n{record}\n" if suffix == ".jsonl" else f"[\n{good},\n{record}\n]\n"
    path = write(tmp_path / f"d{suffix}", body)
    err = error_of(DataSpec(path))
    assert err.line == (2 if suffix == ".jsonl" else 3) and words in str(err)


def test_paired_surrogates_are_fine(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", '{"text": "smile \\ud83d\\ude00"}\n')
    assert [e.text for e in iter_examples(DataSpec(path))] == ["smile \U0001f600"]


# --- files that hung or filled memory ---------------------------------------------------------------


def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "data.txt"
    os.mkfifo(fifo)
    outcome: list[object] = []

    def attempt() -> None:
        try:
            scan(DataSpec(fifo))
        except DataError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(20)
    if thread.is_alive():  # let the blocked open() go, so the test run itself never hangs
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5)
        pytest.fail("scan blocked on a FIFO with no writer")
    assert len(outcome) == 1 and "not a regular file" in str(outcome[0])


def test_a_file_with_no_newline_becomes_bounded_examples(tmp_path: Path) -> None:
    words = " ".join(f"word{i % 977}x{i % 13}" for i in range(400_000))  # about 3.6 MB, one line
    path = write(tmp_path / "one_line.txt", words)
    sizes = [len(e.text) for e in iter_examples(DataSpec(path))]
    assert max(sizes) <= TARGET_CHARS and sum(sizes) > 0.99 * len(words)


def test_a_separated_file_whose_separator_never_comes_is_cut(tmp_path: Path) -> None:
    text = "abc " * (MAX_PIECE_CHARS // 2)  # 2 MB without the separator
    path = write(tmp_path / "d.txt", text)
    spec = DataSpec(path, separator="--S--")
    sizes = [len(e.text) for e in iter_examples(spec)]
    assert len(sizes) >= 2 and max(sizes) <= MAX_PIECE_CHARS + CHUNK_BYTES  # cut at the first read past the limit
    assert scan(spec).warning("cut_piece") is not None


# --- what reaches the terminal, and what the messages say -----------------------------------------


def test_control_characters_are_shown_escaped() -> None:
    hostile = "title\x1b]2;pwned\x07 and \x9b31m red\r\n"
    shown = escape_controls(hostile)
    assert "\x1b" not in shown and "\x07" not in shown and "\x9b" not in shown and "\r" not in shown
    assert "\\x1b]2;pwned\\x07" in shown and shown.endswith("\n")


def test_utf16_is_named(tmp_path: Path) -> None:
    for content in ("prompt,completion\nq,a\n".encode("utf-16"), "prompt,completion\nq,a\n".encode("utf-16-le")):
        err = error_of(DataSpec(write(tmp_path / "d.csv", content)))
        assert "UTF-16" in err.message and "save it as UTF-8" in err.message
