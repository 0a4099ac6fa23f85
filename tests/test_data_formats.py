"""Each file layout becomes the right examples: text, JSON lines, CSV/TSV, detection, BOM and CRLF."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from engine.data import DataError, DataSpec, Message, detect_format, iter_examples, scan
from engine.data.formats import TARGET_CHARS

SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]


def distinct_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` different sentences of made-up words: no duplicates, no repetition."""
    rng = random.Random(seed)
    vocab = sorted({"".join(rng.choices(SYLLABLES, k=rng.randint(1, 3))) for _ in range(800)})
    return [f"{i} " + " ".join(rng.choices(vocab, k=rng.randint(8, 30))) + "." for i in range(n)]


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def texts(spec: DataSpec) -> list[str]:
    return [e.text for e in iter_examples(spec)]


# --- .txt with a separator ---------------------------------------------------------------------


def test_separator_splits_text_into_pieces(tmp_path: Path) -> None:
    path = write(tmp_path / "d.txt", "one\n--S--\ntwo\nlines\n--S--\n\nthree\n")
    examples = list(iter_examples(DataSpec(path, separator="--S--")))
    assert [e.text for e in examples] == ["one", "two\nlines", "three"]
    assert [e.line for e in examples] == [1, 3, 7]
    assert [e.index for e in examples] == [0, 1, 2]
    assert {e.kind for e in examples} == {"text"}


def test_separator_inside_lines_and_framing(tmp_path: Path) -> None:
    # Separators mid-line split too; a separator opening or closing the file is framing, not an empty example.
    path = write(tmp_path / "d.txt", "@@a @@ b\n@@\nc\n@@\n")
    report = scan(DataSpec(path, separator="@@"))
    assert texts(DataSpec(path, separator="@@")) == ["a", "b", "c"]
    assert report.warning("empty") is None
    assert report.flavour == "separator" and report.separator == "@@"


def test_separator_keeps_blank_lines_inside_an_example(tmp_path: Path) -> None:
    path = write(tmp_path / "d.txt", "first para\n\nsecond para\n###\nnext\n")
    assert texts(DataSpec(path, separator="###")) == ["first para\n\nsecond para", "next"]


# --- .txt without a separator: paragraphs, packed ------------------------------------------------


def test_paragraphs_are_packed_up_to_the_target(tmp_path: Path) -> None:
    paragraphs = [f"paragraph {i} " + "x" * 280 for i in range(10)]  # ~293 chars each
    path = write(tmp_path / "d.txt", "\n\n".join(paragraphs) + "\n")
    examples = list(iter_examples(DataSpec(path, target_chars=1000)))
    # Three paragraphs (3 * 293 + 2 * 2 = 883) fit in 1000 chars, a fourth does not.
    assert [e.text for e in examples] == [
        "\n\n".join(paragraphs[0:3]),
        "\n\n".join(paragraphs[3:6]),
        "\n\n".join(paragraphs[6:9]),
        paragraphs[9],
    ]
    assert [e.line for e in examples] == [1, 7, 13, 19]
    assert all(len(e.text) <= 1000 for e in examples)


def test_paragraphs_default_target(tmp_path: Path) -> None:
    paragraphs = distinct_texts(400)
    path = write(tmp_path / "d.txt", "\n\n".join(paragraphs))
    examples = list(iter_examples(DataSpec(path)))
    assert all(len(e.text) <= TARGET_CHARS for e in examples)
    # Packed: far fewer examples than paragraphs, and most are nearly full.
    assert len(examples) < len(paragraphs) / 5
    assert sum(len(e.text) > TARGET_CHARS * 0.8 for e in examples) >= len(examples) - 1
    # Nothing lost or reordered.
    assert "\n\n".join(e.text for e in examples) == "\n\n".join(paragraphs)


def test_long_paragraph_is_cut_at_line_boundaries(tmp_path: Path) -> None:
    lines = [f"line {i:03d} " + "y" * 90 for i in range(50)]  # 99 chars each, no blank lines
    path = write(tmp_path / "d.txt", "\n".join(lines) + "\n")
    examples = list(iter_examples(DataSpec(path, target_chars=1000)))
    assert len(examples) >= 5
    assert all(len(e.text) <= 1000 for e in examples)
    got_lines = [line for e in examples for line in e.text.replace("\n\n", "\n").split("\n")]
    assert got_lines == lines  # every cut falls between two lines, never inside one


def test_blank_lines_with_spaces_separate_paragraphs(tmp_path: Path) -> None:
    path = write(tmp_path / "d.txt", "a\n   \nb\n\n\n\nc\n")
    assert texts(DataSpec(path, target_chars=1)) == ["a", "b", "c"]


# --- .jsonl -------------------------------------------------------------------------------------


def test_jsonl_prompt_completion(tmp_path: Path) -> None:
    rows = [{"prompt": "Q1?", "completion": " A1", "extra": 1}, {"prompt": "", "completion": "A2"}]
    path = write(tmp_path / "d.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    examples = list(iter_examples(DataSpec(path)))
    assert [(e.kind, e.prompt, e.completion, e.line) for e in examples] == [
        ("prompt_completion", "Q1?", " A1", 1),
        ("prompt_completion", "", "A2", 2),
    ]
    assert scan(DataSpec(path)).flavour == "prompt_completion"


def test_jsonl_text_skips_blank_lines_and_keeps_file_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", '{"text": "first"}\n\n   \n{"text": "second\\nline"}\n')
    examples = list(iter_examples(DataSpec(path)))
    assert [(e.kind, e.text, e.line) for e in examples] == [("text", "first", 1), ("text", "second\nline", 4)]


def test_jsonl_messages(tmp_path: Path) -> None:
    chat = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
        ]
    }
    path = write(tmp_path / "d.jsonl", json.dumps(chat) + "\n" + json.dumps(chat | {"id": 2}) + "\n")
    examples = list(iter_examples(DataSpec(path)))
    assert len(examples) == 2
    assert examples[0].kind == "messages"
    assert examples[0].messages == (Message("system", "Be brief."), Message("user", "Hi"), Message("assistant", "Hello!"))
    assert examples[0].chars == len("Be brief.") + len("Hi") + len("Hello!")
    assert scan(DataSpec(path)).flavour == "messages"


# --- .csv and .tsv ------------------------------------------------------------------------------


def test_csv_prompt_completion_with_quoted_multiline_fields(tmp_path: Path) -> None:
    content = (
        "id,Prompt,COMPLETION\n"  # extra column ignored, names match in any case
        '1,"Write a poem","Roses are red,\n'
        "violets are blue,\n"
        'this one has ""quotes"""\n'
        "2,short,answer\n"
        "\n"
        '3,"multi\nline prompt",done\n'
    )
    path = write(tmp_path / "d.csv", content)
    examples = list(iter_examples(DataSpec(path)))
    assert [(e.prompt, e.completion, e.line) for e in examples] == [
        ("Write a poem", 'Roses are red,\nviolets are blue,\nthis one has "quotes"', 2),
        ("short", "answer", 5),
        ("multi\nline prompt", "done", 7),
    ]
    assert {e.kind for e in examples} == {"prompt_completion"}


def test_csv_text_column(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", 'label,text\npos,"good, really"\nneg,bad\n')
    examples = list(iter_examples(DataSpec(path)))
    assert [(e.kind, e.text, e.line) for e in examples] == [("text", "good, really", 2), ("text", "bad", 3)]


def test_csv_blank_lines_before_the_header(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "\n \nprompt,completion\nq,a\n")
    assert [(e.prompt, e.completion, e.line) for e in iter_examples(DataSpec(path))] == [("q", "a", 4)]
    bad = write(tmp_path / "bad.csv", "\n\nprompt,answer\nq,a\n")
    with pytest.raises(DataError) as err:
        scan(DataSpec(bad))
    assert err.value.line == 3 and err.value.field == "completion"


def test_tsv_prompt_completion_and_text(tmp_path: Path) -> None:
    pc = write(tmp_path / "pc.tsv", "prompt\tcompletion\nQ, with comma\tA\nQ2\tA2\n")
    assert [(e.prompt, e.completion) for e in iter_examples(DataSpec(pc))] == [("Q, with comma", "A"), ("Q2", "A2")]
    tx = write(tmp_path / "t.tsv", 'text\n"a\nb"\nc\n')
    assert [(e.text, e.line) for e in iter_examples(DataSpec(tx))] == [("a\nb", 2), ("c", 4)]


# --- detection and override ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.txt", "plain text\n", "txt"),
        ("a.md", "# notes\n", "txt"),
        ("a.jsonl", '{"text": "x"}\n', "jsonl"),
        ("a.ndjson", '{"text": "x"}\n', "jsonl"),
        ("a.csv", "text\nx\n", "csv"),
        ("a.tsv", "text\nx\n", "tsv"),
        ("a.TXT", "plain\n", "txt"),
        # Content decides when the extension says nothing.
        ("a.dat", '\n{"prompt": "p", "completion": "c"}\n', "jsonl"),
        ("data", "prompt,completion\np,c\n", "csv"),
        ("a.data", "prompt\tcompletion\np\tc\n", "tsv"),
        ("a.log", 'id,"Text"\n1,x\n', "csv"),
        # A .txt holding JSON lines is read as JSON lines.
        ("a.txt", '{"text": "x"}\n', "jsonl"),
    ],
)
def test_detect_format(tmp_path: Path, name: str, content: str, expected: str) -> None:
    assert detect_format(DataSpec(write(tmp_path / name, content))) == expected


def test_txt_with_json_first_line_and_a_separator_stays_text(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", '{"text": "x"}\n--S--\n{"text": "y"}\n')
    assert detect_format(DataSpec(path, separator="--S--")) == "txt"
    assert texts(DataSpec(path, separator="--S--")) == ['{"text": "x"}', '{"text": "y"}']


def test_format_override_wins(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '{"text": "x"}\n\n{"text": "y"}\n')
    spec = DataSpec(path, format="txt")
    assert detect_format(spec) == "txt"
    assert texts(DataSpec(path, format="txt", target_chars=1)) == ['{"text": "x"}', '{"text": "y"}']
    odd = write(tmp_path / "a.dat", "text\nhello\n")
    assert detect_format(DataSpec(odd)) == "txt"  # one column and no delimiter: not a table
    assert texts(DataSpec(odd, format="csv")) == ["hello"]
    assert texts(DataSpec(odd, format="txt")) == ["text\nhello"]


def test_any_extension_is_read_by_its_content(tmp_path: Path) -> None:
    assert detect_format(DataSpec(write(tmp_path / "a.dat", "just some words\n"))) == "txt"
    assert detect_format(DataSpec(write(tmp_path / "b.data", '[{"instruction": "a", "output": "b"}]'))) == "json"
    assert detect_format(DataSpec(write(tmp_path / "c.json", '{"text": "a"}\n{"text": "b"}\n'))) == "jsonl"
    assert detect_format(DataSpec(write(tmp_path / "d", "question\tanswer\nq\ta\n"))) == "tsv"
    with pytest.raises(DataError) as err:
        detect_format(DataSpec(write(tmp_path / "e.jsonl", "plain words\n")))
    assert err.value.code == "unknown_format" and err.value.line == 1


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "a.dat", "just some words\n")
    with pytest.raises(DataError) as err:
        DataSpec(path, format="yaml")
    assert err.value.code == "unknown_format" and "yaml" in str(err.value)


# --- BOM and CRLF -------------------------------------------------------------------------------


def _layouts() -> dict[str, tuple[str, dict[str, object], str]]:
    items = distinct_texts(250, seed=7)
    cuts = [t.rfind(" ", 0, len(t) // 2 + 1) for t in items]  # at a space, which starts the completion
    pairs = [(t[:cut], t[cut:]) for t, cut in zip(items, cuts, strict=True)]
    return {
        "separator": ("d.txt", {"separator": "--S--"}, "\n--S--\n".join(items) + "\n"),
        "paragraphs": ("d.txt", {"target_chars": 300}, "\n\n".join(items) + "\n"),
        "jsonl": ("d.jsonl", {}, "".join(json.dumps({"prompt": p, "completion": c}) + "\n" for p, c in pairs)),
        "csv": ("d.csv", {}, "prompt,completion\n" + "".join(f'"{p}","{c}\nsecond line"\n' for p, c in pairs)),
        "tsv": ("d.tsv", {}, "text\n" + "".join(f"{t}\n" for t in items)),
    }


@pytest.mark.parametrize("layout", ["separator", "paragraphs", "jsonl", "csv", "tsv"])
@pytest.mark.parametrize("variant", ["bom", "crlf", "bom+crlf"])
def test_bom_and_crlf_read_like_plain_lf(tmp_path: Path, layout: str, variant: str) -> None:
    name, options, content = _layouts()[layout]
    (tmp_path / "plain").mkdir()
    plain = write(tmp_path / "plain" / name, content)
    data = content.replace("\n", "\r\n") if "crlf" in variant else content
    raw = ("\ufeff" if "bom" in variant else "") + data
    odd = write(tmp_path / name, raw)
    assert odd.read_bytes() != plain.read_bytes()

    expected = list(iter_examples(DataSpec(plain, **options)))
    got = list(iter_examples(DataSpec(odd, **options)))
    assert got == expected
    assert not any("\r" in e.render() or "\ufeff" in e.render() for e in got)
    report = scan(DataSpec(odd, **options))
    assert report.format == scan(DataSpec(plain, **options)).format
    assert report.examples == len(expected)
    if layout == "paragraphs":
        # 250 short paragraphs are far below 100 KB; that is the only warning.
        assert [w.code for w in report.warnings] == ["too_small"]
    else:
        assert report.warnings == []


@pytest.mark.parametrize("delimiter", [";", "|"])
def test_csv_with_semicolons_or_bars_as_excel_writes_them(tmp_path: Path, delimiter: str) -> None:
    content = f'prompt{delimiter}completion\nWhat is 2,5 + 1?{delimiter}3,5\n"Say ""hi"""{delimiter}hi\n'
    for name in ("d.csv", "d.txt"):  # the header row decides, whatever the name
        spec = DataSpec(write(tmp_path / name, content))
        assert detect_format(spec) == "csv"
        assert [(e.prompt, e.completion) for e in iter_examples(spec)] == [("What is 2,5 + 1?", "3,5"), ('Say "hi"', "hi")]


def test_a_comma_header_keeps_commas_even_with_semicolons_in_it(tmp_path: Path) -> None:
    spec = DataSpec(write(tmp_path / "d.csv", "prompt,completion\na;b,c;d\n"))
    assert [(e.prompt, e.completion) for e in iter_examples(spec)] == [("a;b", "c;d")]
