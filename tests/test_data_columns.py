"""A table whose columns finetui doesn't know by name: the error writes out the map, the map takes the words people use, and mapped pairs don't run together.

Also the data errors that used to leave a user guessing what to do: a file
name one letter off, and a forced format the file is not in.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.data import DataError, DataSpec, iter_examples, scan
from engine.errors import Hint
from tui.cli import main

GERMAN = [("Was ist das?", "Ein Haus."), ("Wo steht der Leuchtturm?", "Auf der Klippe."), ("Wie alt ist er?", "Zweihundert Jahre.")]


def write(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8")
    return path


def german_csv(path: Path, header: str = "Frage,Antwort") -> Path:
    return write(path, header + "\n" + "".join(f"{q},{a}\n" for q, a in GERMAN))


def error_of(spec: DataSpec) -> DataError:
    with pytest.raises(DataError) as caught:
        scan(spec)
    return caught.value


def pairs(spec: DataSpec) -> list[tuple[str, str]]:
    return [(e.prompt, e.completion) for e in iter_examples(spec)]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# --- columns finetui doesn't know: the error writes out the map ----------------------------------------


def test_unknown_columns_lead_with_what_was_found_and_the_map_that_names_them(tmp_path: Path) -> None:
    err = error_of(DataSpec(german_csv(tmp_path / "qa.csv")))
    assert str(err).startswith(f"{tmp_path / 'qa.csv'}:1: no column finetui knows in the header row (found: Frage, Antwort;")
    assert str(err).endswith("; name the columns with the map, e.g. prompt=Frage,completion=Antwort")
    assert err.hint == Hint("data.mapping", "prompt=Frage,completion=Antwort") and err.code == "missing_field"
    assert pairs(DataSpec(tmp_path / "qa.csv", mapping=err.suggested_map))[0] == ("Was ist das?\n", "Ein Haus.")


@pytest.mark.parametrize(
    ("header", "suggested"),
    [
        ("id,asked,replied", "prompt=asked,completion=replied"),  # an id column is not what anyone trains on
        (",Frage,Antwort,Thema", "prompt=Frage,completion=Antwort"),  # pandas' unnamed index column, then the first two
        ("Satz", "text=Satz"),  # one column: its text
        ("{,Satz", "text=Satz"),  # no letter: not a name
    ],
)
def test_the_suggested_map_skips_ids_and_unnamed_columns(tmp_path: Path, header: str, suggested: str) -> None:
    path = write(tmp_path / "d.csv", header + "\n" + ",".join(["1"] + ["x"] * header.count(",")) + "\n")
    assert error_of(DataSpec(path)).suggested_map == suggested


def test_a_tsv_and_a_record_with_one_string_field(tmp_path: Path) -> None:
    path = write(tmp_path / "d.tsv", "Satz\tQuelle\nDer Leuchtturm steht.\t1\n")
    assert error_of(DataSpec(path, format="tsv")).suggested_map == "prompt=Satz,completion=Quelle"
    path = write(tmp_path / "one.jsonl", json.dumps({"Satz": "Der Leuchtturm steht.", "id": 4}) + "\n")
    assert error_of(DataSpec(path)).suggested_map == "text=Satz"


def test_half_a_pair_in_the_header_gets_the_map_for_the_other_half(tmp_path: Path) -> None:
    err = error_of(DataSpec(write(tmp_path / "d.csv", "id,prompt,Antwort\n1,Was?,Das.\n")))
    assert str(err).endswith("d.csv:1: field 'completion' is missing from the header row; name the columns with the map, e.g. completion=Antwort")
    err = error_of(DataSpec(german_csv(tmp_path / "qa.csv"), mapping="prompt=Frage"))
    assert err.field == "completion" and err.suggested_map == "prompt=Frage,completion=Antwort"  # the user's map, completed


def test_records_with_unknown_keys_get_the_map_too(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", "".join(json.dumps({"id": i, "frage": q, "antwort": a}) + "\n" for i, (q, a) in enumerate(GERMAN)))
    err = error_of(DataSpec(path))
    assert str(err).startswith(f"{path}:1: no field finetui knows in the record (found: antwort, frage, id;")
    assert err.suggested_map == "prompt=frage,completion=antwort"


# --- the map takes the words the error and the layouts use ---------------------------------------------


@pytest.mark.parametrize(
    "mapping",
    [
        "question=Frage,answer=Antwort",
        "query=Frage,response=Antwort",
        "instruction=Frage,response=Antwort",
        "input=Frage,output=Antwort",
        "question=Frage,response=Antwort",  # mixed pairs too: each word is one half
        "prompt=Frage,answer=Antwort",
    ],
)
def test_the_map_takes_question_and_answer_words_for_prompt_and_completion(tmp_path: Path, mapping: str) -> None:
    spec = DataSpec(german_csv(tmp_path / "qa.csv"), mapping=mapping)
    assert pairs(spec) == [(q + "\n", a) for q, a in GERMAN]


def test_instruction_and_output_together_stay_alpaca(tmp_path: Path) -> None:
    examples = list(iter_examples(DataSpec(german_csv(tmp_path / "qa.csv"), mapping="instruction=Frage,output=Antwort")))
    assert [(m.role, m.content) for m in examples[0].messages] == [("user", "Was ist das?"), ("assistant", "Ein Haus.")]


def test_an_alias_and_its_field_together_fill_it_twice(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        DataSpec(tmp_path / "d.csv", mapping="question=Frage,prompt=Thema")
    assert "the map fills 'prompt' twice (question=Frage, prompt=Thema)" in caught.value.message


def test_a_map_on_plain_text_is_shown_in_the_users_words(tmp_path: Path) -> None:
    err = error_of(DataSpec(write(tmp_path / "d.txt", "hello there\n"), mapping="question=a,answer=b"))
    assert "the map (question=a,answer=b) names columns" in err.message


def test_a_word_the_map_does_not_take_lists_the_ones_it_does(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        DataSpec(tmp_path / "d.csv", mapping="frage=Frage")
    assert "question, query, answer, response" in caught.value.message


# --- a mapped pair doesn't run together --------------------------------------------------------------


def test_mapped_columns_are_joined_with_a_newline_where_nothing_separates_them(tmp_path: Path) -> None:
    rows = [
        ("Tell me about the lighthouse.", "The Glass Lighthouse stands on the cliff."),
        ("Question: how old is it?\n", "Two hundred years."),  # the prompt ends with a newline already
        ("Answer in French:", " Bonjour."),  # the completion starts with a space already
    ]
    path = write(tmp_path / "d.jsonl", "".join(json.dumps({"q": q, "a": a}) + "\n" for q, a in rows))
    spec = DataSpec(path, mapping="prompt=q,completion=a")
    examples = list(iter_examples(spec))
    assert "lighthouse.The" not in examples[0].render()
    assert [(e.prompt, e.completion) for e in examples] == [(rows[0][0] + "\n", rows[0][1]), rows[1], rows[2]]
    assert any(note.startswith("1 pair of columns had nothing between the prompt and the completion") and "newline" in note for note in scan(spec).notes)


def test_question_and_answer_columns_are_joined_the_same(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "question,answer\n" + "".join(f"{q},{a}\n" for q, a in GERMAN))
    assert pairs(DataSpec(path)) == [(q + "\n", a) for q, a in GERMAN]


def test_prompt_and_completion_keys_are_trained_as_written(tmp_path: Path) -> None:
    # The prompt/completion layout is the user's own concatenation (OpenAI's legacy format, TRL's): "2+2=" then "4" is meant.
    path = write(tmp_path / "d.jsonl", json.dumps({"prompt": "2+2=", "completion": "4"}) + "\n")
    assert pairs(DataSpec(path)) == [("2+2=", "4")]
    assert not scan(DataSpec(path)).notes


# --- a file name one letter off, a format the file is not in --------------------------------------------


def test_a_missing_file_names_the_one_next_to_it(tmp_path: Path) -> None:
    write(tmp_path / "facts.jsonl", '{"text": "a"}\n')
    err = error_of(DataSpec(tmp_path / "facts.json"))
    assert str(err) == f"{tmp_path / 'facts.json'}: no such file; did you mean {tmp_path / 'facts.jsonl'}?"
    err = error_of(DataSpec(tmp_path / "nothing_like_it.csv"))
    assert str(err) == f"{tmp_path / 'nothing_like_it.csv'}: no such file"


@pytest.mark.parametrize(
    ("name", "content", "forced", "words"),
    [
        ("d.jsonl", '{"text": "a"}\n{"text": "b"}\n', "csv", "doesn't look like CSV: it looks like JSON Lines"),
        ("d.jsonl", '{"text": "a"}\n{"text": "b"}\n', "tsv", "doesn't look like TSV: it looks like JSON Lines"),
        ("d.json", '[{"text": "a"}, {"text": "b"}]\n', "csv", "doesn't look like CSV: it looks like JSON"),
        ("d.json", '[{"text": "a"}, {"text": "b"}]\n', "jsonl", "doesn't look like JSON Lines: it looks like JSON"),
        ("d.csv", "question,answer\nWhat?,That.\n", "json", "doesn't look like JSON: it looks like CSV"),
        ("d.csv", "question,answer\nWhat?,That.\n", "jsonl", "doesn't look like JSON Lines: it looks like CSV"),
        ("d.csv", "question,answer\nWhat?,That.\n", "tsv", "doesn't look like TSV: it looks like CSV"),
        ("d.tsv", "question\tanswer\nWhat?\tThat.\n", "csv", "doesn't look like CSV: it looks like TSV"),
        ("d.jsonl", '{"text": "a"}\n', "parquet", "doesn't look like Parquet: it looks like JSON Lines"),
        ("d.txt", "just words\n", "arrow", "doesn't look like Arrow: it is text"),
    ],
)
def test_a_forced_format_the_file_is_not_in_says_what_it_looks_like(tmp_path: Path, name: str, content: str, forced: str, words: str) -> None:
    err = error_of(DataSpec(write(tmp_path / name, content), format=forced))
    assert err.code == "wrong_format" and words in str(err) and "\n" not in str(err)


@pytest.mark.parametrize(
    ("name", "content", "forced", "words"),
    [
        ("d.txt", "[Verse 1]\nla la\n", "csv", "no column finetui knows"),  # a bracket is not JSON
        ("d.jsonl", '{"text": "cut short\n{"text": "b"}\n', "jsonl", "malformed JSON"),  # JSON Lines with a broken first line is not JSON
    ],
)
def test_a_forced_format_is_not_refused_on_a_guess(tmp_path: Path, name: str, content: str, forced: str, words: str) -> None:
    err = error_of(DataSpec(write(tmp_path / name, content), format=forced))
    assert err.code != "wrong_format" and words in str(err)


def test_forced_formats_that_read_the_file_still_do(tmp_path: Path) -> None:
    jsonl = write(tmp_path / "d.jsonl", '{"text": "a"}\n{"text": "b"}\n')
    assert [e.text for e in iter_examples(DataSpec(jsonl, format="json"))] == ["a", "b"]  # records one after another are JSON too
    assert len(list(iter_examples(DataSpec(jsonl, format="txt", target_chars=1)))) == 2  # anything may be read as text
    odd = write(tmp_path / "d.dat", "Frage;Antwort\nWas?;Das.\n")
    assert pairs(DataSpec(odd, format="csv", mapping="question=Frage,answer=Antwort")) == [("Was?\n", "Das.")]


# --- the CLI: the fix as a flag ----------------------------------------------------------------------


def test_inspect_and_train_write_out_the_map_flag_to_copy(workdir: Path, capsys: pytest.CaptureFixture[str], finetui_home: Path) -> None:
    german_csv(workdir / "qa.csv")
    for command in ("inspect", "train"):
        code, _, err = cli([command, "qa.csv"], capsys)
        assert code == 2 and err.count("\n") == 1, command
        assert err.startswith("finetui: error: qa.csv:1: no column finetui knows") and err.endswith("; pass --map prompt=Frage,completion=Antwort\n"), err
    assert not (finetui_home / "runs").exists()
    code, out, err = cli(["inspect", "qa.csv", "--map", "question=Frage,answer=Antwort"], capsys)
    assert (code, err) == (0, "") and "[prompt] Was ist das?\n" in out and "examples   3" in out


def test_inspect_quotes_a_map_with_spaces_for_the_shell(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    german_csv(workdir / "qa.csv", header="Die Frage,Antwort")
    code, _, err = cli(["inspect", "qa.csv"], capsys)
    assert code == 2 and err.endswith("; pass --map 'prompt=Die Frage,completion=Antwort'\n")


def test_inspect_and_train_name_the_file_next_to_a_missing_one(workdir: Path, capsys: pytest.CaptureFixture[str], finetui_home: Path) -> None:
    write(workdir / "facts.jsonl", '{"text": "a"}\n')
    for command in ("inspect", "train"):
        code, _, err = cli([command, "facts.json"], capsys)
        assert (code, err) == (2, "finetui: error: facts.json: no such file; did you mean facts.jsonl?\n"), command
    assert not (finetui_home / "runs").exists()


def test_inspect_with_the_wrong_format_says_so_in_one_line(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(workdir / "facts.jsonl", '{"text": "a"}\n')
    code, _, err = cli(["inspect", "facts.jsonl", "--format", "csv"], capsys)
    assert code == 2 and err.count("\n") == 1 and "facts.jsonl: doesn't look like CSV: it looks like JSON Lines" in err
