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


# --- data read wrongly in silence -----------------------------------------------------------------


def test_a_column_named_twice_in_the_header_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "prompt,Prompt,completion\na,b,c\n")
    err = error_of(DataSpec(path))
    assert err.line == 1 and "column 'prompt' appears twice in the header (columns 1 and 2)" in err.message


def test_unnamed_and_unread_columns_may_repeat(tmp_path: Path) -> None:
    # pandas' to_csv names its index column "", Excel leaves trailing empty header cells; a repeated column finetui doesn't read loses nothing.
    path = write(tmp_path / "d.csv", ",prompt,completion,note,note,,\n0,What?,Fine,x,y,,\n")
    assert [(e.prompt, e.completion) for e in iter_examples(DataSpec(path))] == [("What?", "Fine")]


def test_a_mapped_column_named_twice_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "d.tsv", "asked\tasked\treplied\na\tb\tc\n")
    err = error_of(DataSpec(path, mapping="prompt=asked,completion=replied"))
    assert err.line == 1 and "column 'asked' appears twice" in err.message


@pytest.mark.parametrize("suffix", [".parquet", ".arrow"])
def test_a_column_named_twice_in_a_schema_is_refused(tmp_path: Path, suffix: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_arrays([pa.array(["a"]), pa.array(["b"]), pa.array(["c"])], names=["prompt", "prompt", "completion"])
    path = tmp_path / f"d{suffix}"
    if suffix == ".parquet":
        pq.write_table(table, path)
    else:
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:  # a stream, as datasets writes
            writer.write_table(table)
    err = error_of(DataSpec(path))
    assert "column 'prompt' appears twice in the schema (columns 1 and 2)" in err.message


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_a_non_finite_number_is_not_text(tmp_path: Path, value: str, suffix: str) -> None:
    record = '{"prompt": "q", "completion": "a"}\n{"prompt": ' + value + ', "completion": "x"}\n'
    path = write(tmp_path / f"d{suffix}", record)
    err = error_of(DataSpec(path))
    assert err.line == 2 and err.field == "prompt" and "must be a string, not" in err.message


def test_nan_in_an_optional_field_is_a_missing_value(tmp_path: Path) -> None:
    # json.dump of pandas records writes a missing value as NaN: an Alpaca record with no input, not the input "nan".
    path = write(tmp_path / "d.json", '[{"instruction": "Say hi", "input": NaN, "output": "hi", "system": NaN}]\n')
    assert [[m.content for m in e.messages] for e in iter_examples(DataSpec(path))] == [["Say hi", "hi"]]


def test_a_non_finite_number_where_no_text_is_read_is_left_alone(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", '{"prompt": "q", "completion": 42, "score": NaN, "note": null}\n')
    assert [(e.prompt, e.completion) for e in iter_examples(DataSpec(path))] == [("q", "42")]


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ('[\n{"text": "a"},\n{"text": "b"}\n{"text": "c"}\n]\n', 4, "no comma between this record and the one before"),
        ('[{"text": "a"} {"text": "b"}]\n', 1, "no comma between this record and the one before"),
        ('[\n{"text": "a"},,\n{"text": "b"}\n]\n', 2, "two commas"),
        ('[,\n{"text": "a"}\n]\n', 1, "a comma before the first record"),
        ('[\n{"text": "a"},\n]\n', 2, "a comma after the last record"),
    ],
    ids=["missing_comma", "missing_comma_one_line", "double_comma", "leading_comma", "trailing_comma"],
)
def test_a_json_array_needs_one_comma_between_records(tmp_path: Path, body: str, line: int, words: str) -> None:
    err = error_of(DataSpec(write(tmp_path / "d.json", body), format="json"))  # forced: detection alone refuses a leading comma
    assert err.line == line and "malformed JSON" in err.message and words in err.message


def test_records_one_after_another_need_no_comma(tmp_path: Path) -> None:
    path = write(tmp_path / "d.json", '{\n  "text": "a"\n}\n{"text": "b"}\n')
    assert [e.text for e in iter_examples(DataSpec(path))] == ["a", "b"]


def test_a_map_that_fills_a_field_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        DataSpec(tmp_path / "d.jsonl", mapping="prompt=a, prompt=b,completion=c")
    assert "the map fills 'prompt' twice (prompt=a, prompt=b)" in err.value.message


def test_a_map_may_read_one_column_into_two_fields(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", '{"q": "same", "x": 1}\n')
    assert [(e.prompt, e.completion) for e in iter_examples(DataSpec(path, mapping="prompt=q,completion=q"))] == [("same\n", "same")]


@pytest.mark.parametrize("separator", [None, "--S--"])
def test_a_map_on_plain_text_is_refused(tmp_path: Path, separator: str | None) -> None:
    path = write(tmp_path / "d.txt", "hello there\n\nanother paragraph\n")
    err = error_of(DataSpec(path, separator=separator, mapping="prompt=a"))
    assert "the map (prompt=a) names columns of JSON, CSV or Parquet records, and this file is read as plain text" in err.message


@pytest.mark.parametrize(
    ("content", "suffix", "present", "absent"),
    [
        ('{"prompt": "p", "rejected": "r"}\n', ".jsonl", "rejected", "chosen"),
        ('{"prompt": "p", "chosen": "c"}\n', ".jsonl", "chosen", "rejected"),
        ('{"rejected": "r"}\n', ".jsonl", "rejected", "chosen"),
        ("prompt,rejected\np,r\n", ".csv", "rejected", "chosen"),
    ],
    ids=["rejected_only", "chosen_only", "rejected_alone", "csv_rejected_only"],
)
def test_half_a_preference_pair_names_the_other_half(tmp_path: Path, content: str, suffix: str, present: str, absent: str) -> None:
    err = error_of(DataSpec(write(tmp_path / f"d{suffix}", content)))
    assert err.line == 1 and err.field == absent and f"has '{present}' but no '{absent}'" in err.message


def test_a_later_record_with_half_a_pair_names_the_other_half(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", '{"prompt": "p", "chosen": "c", "rejected": "r"}\n{"prompt": "p", "rejected": "r"}\n')
    err = error_of(DataSpec(path))
    assert err.line == 2 and err.field == "chosen" and "has 'rejected' but no 'chosen'" in err.message


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux's /proc")
def test_a_file_whose_size_says_zero_is_read_to_see(tmp_path: Path) -> None:
    assert Path("/proc/self/status").stat().st_size == 0
    examples = list(iter_examples(DataSpec(Path("/proc/self/status"))))
    assert examples and "Name:" in examples[0].text


@pytest.mark.parametrize(
    ("part", "field", "words"),
    [
        ("5", "messages[0].content[0]", "must be a string or a text part, not a number"),
        ('{"type": "image_url", "image_url": {"url": "x"}}', "messages[0].content[0]", "is a part of type 'image_url'"),
        ('{"type": "text", "text": 5}', "messages[0].content[0].text", "must be a string, not a number"),
    ],
    ids=["number", "image", "text_not_string"],
)
def test_a_content_part_that_is_not_text_is_named_in_plain_words(tmp_path: Path, part: str, field: str, words: str) -> None:
    path = write(tmp_path / "d.jsonl", '{"messages": [{"role": "user", "content": [' + part + ']}, {"role": "assistant", "content": "b"}]}\n')
    err = error_of(DataSpec(path))
    assert err.field == field and words in err.message and " a a " not in str(err)


@pytest.mark.parametrize(
    ("name", "content", "extra", "expected"),
    [
        ("d.csv", "prompt,prompt,completion\na,b,c\n", [], "d.csv:1: column 'prompt' appears twice in the header"),
        ("d.jsonl", '{"prompt": NaN, "completion": "x"}\n', [], "d.jsonl:1: field 'prompt' must be a string, not NaN (pandas' mark of a missing value)"),
        ("d.txt", "hello\n", ["--map", "prompt=a"], "d.txt: the map (prompt=a) names columns"),
        ("d.jsonl", '{"a": "x"}\n', ["--map", "prompt=a,prompt=b"], "d.jsonl: the map fills 'prompt' twice"),
    ],
    ids=["repeated_column", "nan", "map_on_text", "map_twice"],
)
def test_inspect_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str, extra: list[str], expected: str) -> None:
    from tui.cli import main

    path = write(tmp_path / name, content)
    code = main(["inspect", str(path), *extra])
    out, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and expected in err and "Traceback" not in out + err
