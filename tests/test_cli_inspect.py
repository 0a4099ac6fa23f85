"""``finetui inspect``: what it prints for each format, ``--json``, and its one-line errors."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.data.report import FLAVOURS
from tui.cli import main

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current folder for the command: the tests check nothing new appears in it."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def files_under(*folders: Path) -> set[Path]:
    return {p for folder in folders if folder.exists() for p in folder.rglob("*")}


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def example_headers(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("── #")]


# --- what it prints -----------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--separator", "-s"])
def test_txt_with_a_separator_that_starts_with_dashes(workdir: Path, capsys: pytest.CaptureFixture[str], flag: str) -> None:
    data = write(workdir / "haiku.txt", "old pond\nfrog leaps\n--SEPARATOR--\nautumn moon\n--SEPARATOR--\nfirst snow\n")
    code, out, err = run(["inspect", str(data), flag, "--SEPARATOR--"], capsys)
    assert (code, err) == (0, "")
    assert example_headers(out) == [
        "── #0 · line 1 · 19 chars " + "─" * 34,
        "── #1 · line 4 · 11 chars " + "─" * 34,
        "── #2 · line 6 · 10 chars " + "─" * 34,
    ]
    assert "old pond\nfrog leaps\n" in out and "autumn moon\n" in out and "first snow\n" in out
    assert "split at --SEPARATOR--" in out
    assert "examples   3  (train 2, eval 1)" in out
    assert "too_small" in out and "separator_not_found" not in out


def test_separator_option_after_other_options_and_with_equals(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write(workdir / "d.txt", "a\n--S--\nb\n")
    code, out, _ = run(["inspect", "--show", "1", str(data), "--separator=--S--"], capsys)
    assert code == 0 and "examples   2  (train 1, eval 1)" in out
    code, out, _ = run(["inspect", str(data), "--json", "-s", "--S--"], capsys)
    assert code == 0 and json.loads(out)["separator"] == "--S--" and json.loads(out)["examples"] == 2


def test_txt_without_a_separator_splits_at_paragraphs(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paragraphs = [f"Paragraph {i}: " + "words " * 100 for i in range(30)]  # ~615 chars each
    data = write(workdir / "book.txt", "\n\n".join(paragraphs) + "\n")
    code, out, _ = run(["inspect", str(data), "--show", "2"], capsys)
    assert code == 0
    # Three paragraphs pack into each 2000-character example.
    assert "split at blank lines" in out
    assert "examples   10  (train 9, eval 1)" in out
    assert example_headers(out)[0].startswith("── #0 · line 1 · ")
    assert example_headers(out)[1].startswith("── #1 · line 7 · ")
    assert len(example_headers(out)) == 2


@pytest.mark.parametrize(
    ("make", "flavour", "shown"),
    [
        (lambda i: {"prompt": f"What is {i}+2?", "completion": str(i + 2)}, "prompt_completion", ["[prompt] What is 0+2?", "[completion] 2"]),
        (lambda i: {"text": f"Just some text, number {i}."}, "text", ["Just some text, number 0."]),
        (
            lambda i: {"messages": [{"role": "user", "content": f"Hi there {i}"}, {"role": "assistant", "content": "Hello!"}]},
            "messages",
            ["[user] Hi there 0", "[assistant] Hello!"],
        ),
    ],
    ids=["prompt_completion", "text", "messages"],
)
def test_jsonl_flavours(workdir: Path, capsys: pytest.CaptureFixture[str], make, flavour: str, shown: list[str]) -> None:
    data = write(workdir / "d.jsonl", "".join(json.dumps(make(i)) + "\n" for i in range(20)))
    code, out, _ = run(["inspect", str(data), "--show", "1"], capsys)
    assert code == 0
    assert example_headers(out)[0].startswith("── #0 · line 1 · ")
    for text in shown:
        assert text + "\n" in out
    assert f"jsonl, {FLAVOURS[flavour]}" in out
    assert "examples   20  (train 18, eval 2)" in out

    code, out, _ = run(["inspect", str(data), "--json"], capsys)
    report = json.loads(out)
    assert (code, report["format"], report["flavour"], report["examples"]) == (0, "jsonl", flavour, 20)


def test_csv_with_multiline_fields(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = "".join(f'"question {i}?","answer {i}\nwith a second line"\n' for i in range(250))
    data = write(workdir / "d.csv", "prompt,completion\n" + body)
    code, out, _ = run(["inspect", str(data)], capsys)
    assert code == 0
    headers = example_headers(out)
    assert [h.split(" · ")[1] for h in headers] == ["line 2", "line 4", "line 6"]
    assert "[completion] answer 1\nwith a second line\n" in out
    assert "examples   250  (train 225, eval 25)" in out
    assert "warnings: none" in out


def test_show_zero_prints_only_the_report(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write(workdir / "d.txt", "a\n--S--\nb\n")
    code, out, _ = run(["inspect", str(data), "-s", "--S--", "--show", "0"], capsys)
    assert code == 0 and example_headers(out) == [] and out.startswith("report for ")


def test_json_report_fields(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = [f"example number {i} about {i * 7} things" for i in range(30)] + ["example number 0 about 0 things"]
    items += ["", "EXAMPLE number 1, about 7 things!"]
    data = write(workdir / "d.txt", "\n@@\n".join(items) + "\n")
    code, out, err = run(["inspect", str(data), "--separator", "@@", "--json", "--show", "2"], capsys)
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["format"] == "txt" and report["separator"] == "@@"
    assert report["examples"] == 32
    assert report["train"] + report["eval"] == 32 and report["eval"] >= 3
    assert report["errors"] == []
    assert report["file_bytes"] == data.stat().st_size
    assert report["lengths"]["tokens_estimated"] is True and report["lengths"]["chars"]["count"] == 32
    assert [p["text"] for p in report["preview"]] == items[:2]
    warnings = {w["code"]: w for w in report["warnings"]}
    assert set(warnings) == {"too_small", "empty", "duplicate", "near_duplicate"}
    assert (warnings["duplicate"]["count"], warnings["duplicate"]["indices"]) == (1, [30])
    assert (warnings["near_duplicate"]["count"], warnings["near_duplicate"]["indices"]) == (1, [31])
    assert warnings["empty"]["count"] == 1 and warnings["empty"]["lines"] == [63]


def test_options_change_the_report(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = [f"item {i}" + " w" * (i * 10) for i in range(40)]
    data = write(workdir / "d.txt", "\n--S--\n".join(items))
    argv = ["inspect", str(data), "-s", "--S--", "--json"]
    base = json.loads(run(argv, capsys)[1])
    tight = json.loads(run(argv + ["--max-seq-len", "50", "--eval-fraction", "0.5", "--seed", "3"], capsys)[1])
    assert base["eval"] == 4 and tight["eval"] == 20
    assert "too_long" not in {w["code"] for w in base["warnings"]}
    too_long = next(w for w in tight["warnings"] if w["code"] == "too_long")
    assert too_long["indices"] == [i for i, t in enumerate(items) if math.ceil(len(t) / 4) > 50]
    assert too_long["count"] > 10


@pytest.mark.parametrize(
    ("word", "said"),
    [
        ("runz", "'runz' is no command, file or folder; did you mean 'runs'? (see finetui --help)"),
        ("no/such/data.jsonl", "'no/such/data.jsonl' is no command, file or folder (see finetui --help)"),
    ],
)
def test_one_word_that_is_no_command_file_or_folder_is_refused_not_opened(
    word: str, said: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("tui.cli._run_tui", lambda start: pytest.fail(f"opened the TUI on {start}"))
    with pytest.raises(SystemExit) as exit_:
        main([word])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == f"finetui: error: {said}\n"


def test_one_word_that_is_a_file_or_folder_opens_the_tui_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[Path] = []
    monkeypatch.setattr("tui.cli._run_tui", lambda start: opened.append(start) or 0)
    (tmp_path / "runz").write_text("a file named like a command's typo\n")
    monkeypatch.chdir(tmp_path)
    assert main(["runz"]) == 0 and main(["."]) == 0
    assert opened == [Path("runz"), Path(".")]


def test_help_lists_the_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert "inspect" in out and "train" in out
    with pytest.raises(SystemExit):
        main(["inspect", "--help"])
    out = capsys.readouterr().out
    for option in ("--separator", "--format", "--show", "--json"):
        assert option in out


# --- errors -------------------------------------------------------------------------------------

ERRORS = {
    # name: (file name, content or None for no file, extra arguments, text the error line must hold)
    "missing": ("nope.txt", None, [], "nope.txt: no such file"),
    "binary": ("d.txt", b"abc\x00def", [], "binary"),
    "binary_late": ("d.txt", b"x" * 70_000 + b"\n\x00\n", [], "d.txt:2: "),
    "not_utf8": ("d.txt", b"fine\n\xe9t\xe9\n", [], "d.txt:2: not valid UTF-8"),
    "empty": ("d.txt", b"", [], "d.txt: file is empty"),
    "bom_only": ("d.txt", b"\xef\xbb\xbf", [], "d.txt: file is empty"),
    "malformed_json": ("d.jsonl", b'{"text": "a"}\n{"text": \n', [], "d.jsonl:2: malformed JSON"),
    "missing_completion": ("d.jsonl", b'{"prompt": "a", "completion": "b"}\n{"prompt": "a"}\n', [], "d.jsonl:2: field 'completion' is missing"),
    "missing_role": ("d.jsonl", b'{"messages": [{"content": "a"}]}\n', [], "d.jsonl:1: field 'messages[0].role' is missing"),
    "csv_header": ("d.csv", b"q,a\n1,2\n", [], "d.csv:1: no column finetui knows in the header row"),
    "csv_short_row": ("d.csv", b"prompt,completion\na,b\nc\n", [], "d.csv:3: field 'completion' is missing"),
    "unknown_format": ("d.jsonl", b"hello\n", [], "d.jsonl:1: can't read it as jsonl"),
    "forced_yaml": ("d.txt", b"hello\n", ["--format", "yaml"], "d.txt: unknown format 'yaml'"),
    "no_examples": ("d.txt", b"--S--\n\n--S--\n", ["--separator", "--S--"], "d.txt: no examples left"),
}


@pytest.mark.parametrize("case", list(ERRORS))
@pytest.mark.parametrize("as_json", [False, True])
def test_errors_exit_2_with_one_line_and_write_nothing(
    workdir: Path, finetui_home: Path, capsys: pytest.CaptureFixture[str], case: str, as_json: bool
) -> None:
    name, content, extra, expected = ERRORS[case]
    data = workdir / name
    if content is not None:
        write(data, content)
    before = files_under(workdir)
    code, out, err = run(["inspect", str(data), *extra] + (["--json"] if as_json else []), capsys)
    assert code == 2
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("finetui: error: ") and expected in err and str(data) in err
    if as_json:
        report = json.loads(out)
        assert len(report["errors"]) == 1
        assert expected in report["errors"][0]["message"] and report["errors"][0]["file"] == str(data)
    else:
        assert "Traceback" not in out
    assert files_under(workdir) == before
    assert not finetui_home.exists()


def test_a_folder_is_refused(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["inspect", str(workdir), "--json"], capsys)
    assert code == 2 and err.count("\n") == 1 and "is a folder" in err
    assert json.loads(out)["errors"][0]["code"] == "unreadable"


def test_json_error_names_the_line_and_field(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write(workdir / "d.jsonl", b'{"prompt": "a", "completion": "b"}\n\n{"prompt": "a", "completion": [5]}\n')
    code, out, _ = run(["inspect", str(data), "--json"], capsys)
    assert code == 2
    assert json.loads(out)["errors"] == [
        {
            "code": "bad_field",
            "message": f"{data}:3: field 'completion' must be a string, not a list",
            "file": str(data),
            "line": 3,
            "field": "completion",
        }
    ]


def test_success_writes_nothing(workdir: Path, finetui_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write(workdir / "d.jsonl", '{"text": "a"}\n{"text": "b"}\n')
    before = files_under(workdir)
    assert run(["inspect", str(data)], capsys)[0] == 0
    assert run(["inspect", str(data), "--json"], capsys)[0] == 0
    assert files_under(workdir) == before and not finetui_home.exists()


@pytest.mark.parametrize("bad", [["--show", "-1"], ["--max-seq-len", "0"], ["--eval-fraction", "1.5"], ["--show", "many"]])
def test_bad_options_exit_2_with_one_line(workdir: Path, capsys: pytest.CaptureFixture[str], bad: list[str]) -> None:
    data = write(workdir / "d.txt", "hello\n")
    try:
        code = main(["inspect", str(data), *bad])
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1


# --- the real command, in a subprocess ----------------------------------------------------------


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "FINETUI_HOME": str(home), "PYTHONPATH": str(REPO)}


@pytest.mark.slow
def test_real_command_reads_a_file(workdir: Path, finetui_home: Path) -> None:
    data = write(workdir / "d.txt", "a\n--SEPARATOR--\nb\n--SEPARATOR--\nc\n")
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "inspect", str(data), "--separator", "--SEPARATOR--", "--json"],
        capture_output=True, text=True, env=_env(finetui_home), timeout=60, cwd=workdir,
    )
    assert (done.returncode, done.stderr) == (0, "")
    report = json.loads(done.stdout)
    assert (report["examples"], report["train"], report["eval"]) == (3, 2, 1)
    assert [w["code"] for w in report["warnings"]] == ["too_small"]
    assert sorted(p.name for p in workdir.iterdir()) == ["d.txt"] and not finetui_home.exists()


@pytest.mark.slow
def test_real_command_error_and_help(workdir: Path, finetui_home: Path) -> None:
    data = write(workdir / "d.jsonl", '{"text": "a"}\n{oops}\n')
    command = ["finetui"] if _on_path("finetui") else [sys.executable, "-m", "tui.cli"]
    done = subprocess.run([*command, "inspect", str(data)], capture_output=True, text=True, env=_env(finetui_home), timeout=60)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"finetui: error: {data}:2: malformed JSON: Expecting property name enclosed in double quotes (column 2)"]
    shown = subprocess.run([*command, "--help"], capture_output=True, text=True, env=_env(finetui_home), timeout=60)
    assert shown.returncode == 0 and "inspect" in shown.stdout


@pytest.mark.slow
def test_reader_closing_the_pipe_early_is_not_a_crash(workdir: Path, finetui_home: Path) -> None:
    # Like `finetui inspect big.txt | head -1`: a few MB, so the report comes well after the pipe closed.
    data = write(workdir / "d.txt", "".join(f"example {i} " + "word " * 60 + "\n--S--\n" for i in range(10_000)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "inspect", str(data), "-s", "--S--", "--show", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(finetui_home), cwd=workdir,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"first 2 examples")
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert stderr == ""  # no BrokenPipeError traceback
    assert proc.wait(timeout=60) in (1, 0)  # 0 only if it had written everything before the pipe closed


def _on_path(name: str) -> bool:
    import shutil

    return shutil.which(name) is not None


# --- issue 11: separators that look like options, suggestions, escaping, the token preview ------------

DASHED = "old pond\nfrog leaps\n--\nautumn moon\nlight\n--\nfirst snow\nfalls\n--\nwinter rain\n"


@pytest.mark.parametrize("args", [["--separator", "--"], ["--separator=--"], ["-s", "--"], ["-s--"]], ids=["space", "equals", "short", "glued"])
@pytest.mark.parametrize("command", ["inspect", "train"])
def test_a_separator_of_two_dashes_is_accepted(
    workdir: Path, finetui_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str], command: str
) -> None:
    data = write(workdir / "d.txt", DASHED)
    if command == "train":
        # Stop right after the data check: what matters is that the separator reached it, whole.
        import tui.commands.train as train_command

        seen: list[object] = []

        def fake_validate(config):
            seen.append(config.data.separator)
            raise train_command.DataError(data, "stop here")

        monkeypatch.setattr(train_command, "validate_data", fake_validate)
        code, out, err = run(["train", str(data), *args], capsys)
        assert code == 2 and seen == ["--"] and "Traceback" not in err
        return
    code, out, err = run(["inspect", str(data), *args, "--json"], capsys)
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["separator"] == "--" and report["examples"] == 4


def test_no_separator_value_gives_a_traceback(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write(workdir / "d.txt", DASHED)
    for value in ["--", "-", "---x", "=", "", " ", "--json", "-s"]:
        code, out, err = run(["inspect", str(data), "--separator", value, "-n", "0"], capsys)
        assert code in (0, 2) and "Traceback" not in out + err, value


@pytest.mark.parametrize(("marker", "pieces"), [("--", 4), ("--SEPARATOR--", 4)])
def test_inspect_suggests_the_separator(workdir: Path, capsys: pytest.CaptureFixture[str], marker: str, pieces: int) -> None:
    data = write(workdir / "d.txt", DASHED.replace("--", marker))
    code, out, err = run(["inspect", str(data), "-n", "0"], capsys)
    assert code == 0
    assert f"looks separated by `{marker}` ({pieces} pieces); pass --separator '{marker}'" in out  # the CLI's own words
    code, out, err = run(["inspect", str(data), "--json"], capsys)
    assert json.loads(out)["suggested_separator"] == marker


def test_a_file_without_markers_gets_no_suggestion(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write(workdir / "d.txt", "Some prose.\n\nGLOUCESTER:\nNow is the winter.\n\nGLOUCESTER:\nOf our discontent.\n\nGLOUCESTER:\nMade glorious.\n")
    code, out, err = run(["inspect", str(data), "--json"], capsys)
    report = json.loads(out)
    assert report["suggested_separator"] is None and all(w["code"] != "separator_suggested" for w in report["warnings"])


def test_escape_sequences_in_the_data_are_printed_escaped(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write(workdir / "d.jsonl", '{"prompt": "title\\u001b]2;pwned\\u0007", "completion": "red \\u001b[31m text \\u009b"}\n')
    code, out, err = run(["inspect", str(data)], capsys)
    assert code == 0 and "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "title\\x1b]2;pwned\\x07" in out and "red \\x1b[31m text \\x9b" in out


def test_show_tokens_marks_only_assistant_turns_and_skips_weight_zero(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = REPO / "tests" / "fixtures" / "formats" / "openai_chat.jsonl"
    code, out, err = run(["inspect", str(data), "--show-tokens", "-n", "1"], capsys)
    assert (code, err) == (0, "")
    tokens = out.split("── tokens of #0", 1)[1]
    trained = [part.split("⟧")[0] for part in tokens.split("⟦")[1:]]
    assert trained == [" Paris, as if everyone doesn't know that already.</s>\n"]
    assert "Assistant: Paris</s>" in tokens  # the weight-0 turn is shown, as context
    assert "[assistant, weight 0: not trained] Paris" in out


@pytest.mark.parametrize(("lines", "said"), [(1, "only 1 example;"), (2, "only 2 examples;")])
def test_the_too_small_warning_counts_in_words(workdir: Path, capsys: pytest.CaptureFixture[str], lines: int, said: str) -> None:
    data = write(workdir / "d.jsonl", "".join(f'{{"prompt": "q{i}", "completion": "a{i}"}}\n' for i in range(lines)))
    code, out, _ = run(["inspect", str(data)], capsys)
    assert code == 0 and said in out


@pytest.mark.parametrize(
    ("rows", "show", "header"),
    [(5, 3, "first 3 examples of"), (5, 1, "the first example of"), (2, 3, "all 2 examples of"), (1, 3, "the only example of")],
)
def test_the_examples_header_counts_what_is_shown(workdir: Path, capsys: pytest.CaptureFixture[str], rows: int, show: int, header: str) -> None:
    data = write(workdir / "d.jsonl", "".join(f'{{"prompt": "q{i}", "completion": "a{i}"}}\n' for i in range(rows)))
    code, out, _ = run(["inspect", str(data), "--show", str(show)], capsys)
    assert code == 0 and out.startswith(f"{header} {data}\n") and len(example_headers(out)) == min(rows, show)


def test_examples_before_an_error_are_shown_as_what_they_are(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write(workdir / "d.jsonl", '{"text": "a"}\n{"text": "b"}\n{"text": "c"\n')
    code, out, err = run(["inspect", str(data)], capsys)
    assert code == 2 and out.startswith(f"first 2 examples of {data}\n") and len(example_headers(out)) == 2
    assert err.startswith(f"finetui: error: {data}:3: ")
