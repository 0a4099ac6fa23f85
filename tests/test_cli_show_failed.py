"""``finetui show`` of a failed run: why it failed, the process's last lines, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import DataConfig, RunConfig
from engine.runs import RunStore
from tui.cli import main
from tui.commands.runview import WINDOW, tail, without_tracebacks

#: What a training process prints when it fails: output, then a chained traceback, as Python writes one.
PROCESS_OUTPUT = """\
loading /models/x (4bit)
a warning the libraries printed
Traceback (most recent call last):
  File "/site-packages/engine/train/finetune.py", line 140, in prepare
    model = load_model(name)
            ^^^^^^^^^^^^^^^^
OSError: cannot read the weights

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/site-packages/engine/train/worker.py", line 113, in _work
    final = train(run, stop, resume)
engine.models.errors.ModelError: cannot read /models/x: the weights are damaged
CUDA kernel launch took longer than expected
"""


def test_a_failed_runs_page_says_why_and_shows_the_output_without_a_traceback(finetui_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = RunStore().create(RunConfig("broken-weights", DataConfig("/data/x.txt")))
    run.write_status(run.status().moved("failed", reason="cannot read /models/x: the weights are damaged"))
    run.log_path.write_text(PROCESS_OUTPUT)
    assert main(["show", run.id]) == 0
    out = capsys.readouterr().out
    assert f"run {run.id}   failed: cannot read /models/x: the weights are damaged" in out
    assert "a warning the libraries printed" in out and "CUDA kernel launch took longer than expected" in out
    assert f"all of it, with any traceback: {run.log_path}" in out
    for piece in ("Traceback", 'File "', "^^^", "During handling", "OSError", "engine.models.errors"):
        assert piece not in out, piece


def test_only_tracebacks_are_left_out() -> None:
    assert without_tracebacks(PROCESS_OUTPUT.splitlines()) == [
        "loading /models/x (4bit)",
        "a warning the libraries printed",
        "CUDA kernel launch took longer than expected",
    ]
    assert without_tracebacks(["  an indented line of output", "plain"]) == ["  an indented line of output", "plain"]
    from_a_frame = PROCESS_OUTPUT.splitlines()[3:]
    assert without_tracebacks(from_a_frame) == ["CUDA kernel launch took longer than expected"]


def test_a_long_log_read_from_inside_a_frame_shows_no_part_of_it(tmp_path: Path) -> None:
    """``tail`` reads the last ``WINDOW`` bytes, which may begin in the middle of a traceback's code line."""
    cut = PROCESS_OUTPUT.index("    model = load_model") + 6
    ending = PROCESS_OUTPUT[cut:] + "".join(f"output line {i:05d}\n" for i in range(2000))
    ending = ending[: WINDOW - 1] + "\n"
    log = tmp_path / "process.log"
    log.write_text("earlier output\n" * 50 + PROCESS_OUTPUT[:cut] + ending)
    shown = tail(log, lines=10_000)
    assert shown and shown[0] == "CUDA kernel launch took longer than expected" and shown[1] == "output line 00000"
    assert not any(piece in line for line in shown for piece in ("load_model", "^^^", "Traceback", "File", "Error"))
