"""Bad input becomes one ``DataError``: a single line naming the file and, where there is one, the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.data import DataError, DataSpec, iter_examples, scan, split_examples
from engine.data.reader import SNIFF_BYTES

BOM = b"\xef\xbb\xbf"

#: (file name, content, DataSpec options, error code, line or None, words the message must hold)
CASES = {
    "binary": ("d.txt", b"text\x00\x01\x02more", {}, "binary", None, "binary"),
    "binary_late": ("d.txt", b"a" * 100 + b"\n" + b"b" * SNIFF_BYTES + b"\n\x00\x00\n", {}, "binary", 3, "NUL"),
    "not_utf8": ("d.txt", b"ok\nfine\n" + "caf\u00e9\n".encode("latin-1"), {}, "encoding", 3, "UTF-8"),
    "not_utf8_jsonl": ("d.jsonl", b'{"text": "a"}\n{"text": "\xff"}\n', {}, "encoding", 2, "UTF-8"),
    "empty": ("d.txt", b"", {}, "empty", None, "empty"),
    "bom_only": ("d.txt", BOM, {}, "empty", None, "empty"),
    "malformed_json": ("d.jsonl", b'{"text": "a"}\n{"text": "b"}\n{"text": "c",}\n', {}, "malformed_json", 3, "JSON"),
    "json_not_object": ("d.jsonl", b'{"text": "a"}\n["b"]\n', {}, "malformed_json", 2, "object"),
    "jsonl_no_known_field": ("d.jsonl", b'{"body": "a"}\n', {}, "missing_field", 1, "text"),
    "json_records_wrapped": (
        "d.json",
        b'{"version": 2,\n "data": [{"instruction": "a", "output": "b"}]}\n',
        {},
        "nested_records",
        1,
        "field 'data' holds a list of records, and finetui reads records at the top: a JSON array of them, or JSON Lines; "
        "save that list on its own first (jq -c '.data[]' FILE > records.jsonl)",
    ),
    "jsonl_completion_missing": (
        "d.jsonl",
        b'{"prompt": "a", "completion": "b"}\n\n{"prompt": "c"}\n',
        {},
        "missing_field",
        3,
        "'completion' is missing",
    ),
    "jsonl_completion_not_string": (
        "d.jsonl",
        b'{"prompt": "a", "completion": [3]}\n',
        {},
        "bad_field",
        1,
        "'completion' must be a string",
    ),
    "jsonl_text_missing": ("d.jsonl", b'{"text": "a"}\n{"txt": "b"}\n', {}, "missing_field", 2, "'text' is missing"),
    "messages_role_missing": (
        "d.jsonl",
        (json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}) + "\n"
         + json.dumps({"messages": [{"role": "user", "content": "a"}, {"content": "b"}]}) + "\n").encode(),
        {},
        "missing_field",
        2,
        "'messages[1].role' is missing",
    ),
    "messages_bad_role": (
        "d.jsonl",
        (json.dumps({"messages": [{"role": "robot", "content": "a"}]}) + "\n").encode(),
        {},
        "unknown_role",
        1,
        "messages[0].role",
    ),
    "messages_content_missing": (
        "d.jsonl",
        (json.dumps({"messages": [{"role": "user", "content": 3}]}) + "\n").encode(),
        {},
        "bad_field",
        1,
        "'messages[0].content' must be a string",
    ),
    "messages_not_list": ("d.jsonl", b'{"messages": "hi"}\n', {}, "bad_field", 1, "'messages'"),
    "csv_header_without_columns": ("d.csv", b"asked,replied\na,b\n", {}, "missing_field", 1, "header"),
    "csv_header_half": ("d.csv", b"prompt,answer\na,b\n", {}, "missing_field", 1, "'completion' is missing from the header"),
    "csv_short_row": ("d.csv", b'prompt,completion\na,b\n"c\nd",e\nf\n', {}, "missing_field", 5, "'completion' is missing (the row has 1 cell, the header 2)"),
    "tsv_short_row": ("d.tsv", b"prompt\tcompletion\na\tb\nc\n", {}, "missing_field", 3, "'completion'"),
    "unknown_format": ("d.jsonl", b"some words\n", {}, "unknown_format", 1, "neither JSON nor a table"),
    "jsonl_encoded_twice": (
        "d.jsonl",
        (json.dumps(json.dumps({"prompt": "a", "completion": "b"})) + "\n").encode(),
        {},
        "unknown_format",
        1,
        "its first line is JSON but a string that holds JSON (was each record encoded twice",
    ),
    "jsonl_encoded_twice_later": (
        "d.jsonl",
        (json.dumps({"text": "a"}) + "\n" + json.dumps(json.dumps({"text": "b"})) + "\n").encode(),
        {},
        "malformed_json",
        2,
        "expected a JSON object, got a string that holds JSON",
    ),
    "jsonl_of_lists": ("d.jsonl", b"[1, 2]\n[3]\n", {}, "unknown_format", 1, "its first line is JSON but a list, not an object"),
    "no_examples_txt": ("d.txt", b"\n  \n\t\n", {}, "no_examples", None, "no examples found"),
    "no_examples_separator": ("d.txt", b"--S--\n \n--S--\n--S--\n", {"separator": "--S--"}, "no_examples", None, "(line 2: its text is empty)"),
    "no_examples_jsonl": (
        "d.jsonl",
        b'{"prompt": "a", "completion": ""}\n{"prompt": "b", "completion": "  "}\n',
        {},
        "no_examples",
        None,
        "(line 1: its completion is empty)",
    ),
    "no_examples_messages": (
        "d.jsonl",
        (json.dumps({"messages": [{"role": "user", "content": "only a question"}]}) + "\n").encode(),
        {},
        "no_examples",
        None,
        "(line 1: the chat has no assistant turn)",
    ),
    "no_examples_empty_answers": (
        "d.jsonl",
        (json.dumps({"messages": [{"role": "user", "content": "a question"}, {"role": "assistant", "content": " "}]}) + "\n").encode(),
        {},
        "no_examples",
        None,
        "(line 1: its assistant turns are empty)",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_file_raises_one_line_data_error(tmp_path: Path, case: str) -> None:
    name, content, options, code, line, words = CASES[case]
    path = tmp_path / name
    path.write_bytes(content)
    spec = DataSpec(path, **options)
    for attempt in (lambda: scan(spec), lambda: list(iter_examples(spec)), lambda: split_examples(spec)):
        with pytest.raises(DataError) as err:
            attempt()
        error = err.value
        message = str(error)
        assert (error.code, error.line) == (code, line), message
        assert words in message
        assert "\n" not in message
        expected_start = f"{path}:{line}: " if line is not None else f"{path}: "
        assert message.startswith(expected_start)
        assert error.to_json() == {"code": code, "message": message, "file": str(path), "line": line, "field": error.field}


def test_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        scan(DataSpec(tmp_path))
    assert err.value.code == "unreadable" and "folder" in str(err.value) and str(tmp_path) in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.jsonl"
    with pytest.raises(DataError) as err:
        scan(DataSpec(path))
    assert err.value.code == "unreadable" and str(err.value) == f"{path}: no such file"


def test_unknown_forced_format(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        DataSpec(tmp_path / "d.txt", format="yaml")
    assert err.value.code == "unknown_format" and "'yaml'" in str(err.value)


def test_error_after_the_first_examples_still_raises(tmp_path: Path) -> None:
    # The preview may already have been shown; the scan as a whole still fails.
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"text": f"example {i}"}) + "\n" for i in range(500)) + "{oops\n")
    seen = []
    with pytest.raises(DataError) as err:
        scan(DataSpec(path), on_preview=seen.append)
    assert err.value.line == 501
    assert len(seen) == 5


def test_long_csv_field_is_a_warning_not_an_error(tmp_path: Path) -> None:
    # Past the csv module's default field limit of 128 KB: still one (too long) example.
    long_text = " ".join(f"w{i}" for i in range(40_000))
    path = tmp_path / "d.csv"
    path.write_text(f'text\n"{long_text}"\nshort one\n')
    report = scan(DataSpec(path))
    assert report.examples == 2 and report.chars.max == len(long_text)
    assert report.warning("too_long").indices == [0]


def test_csv_quote_left_open_is_named_at_its_row(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    filler = "".join(f"row {i}," + "x" * 1000 + "\n" for i in range(17_000))  # ~17 MB swallowed by the open quote
    path.write_text('prompt,completion\na,b\n"oops,c\n' + filler)
    with pytest.raises(DataError) as err:
        scan(DataSpec(path))
    assert (err.value.code, err.value.line) == ("malformed_csv", 3)
    assert "quote" in str(err.value)
