"""Counts in the figures the CLI and the TUI both show: one of a thing is singular."""

from __future__ import annotations

from engine.infer.protocol import Done
from engine.runs.events import SampleRates, TrainFigures
from tui.format import training_lines
from tui.widgets.playground_output import done_line
from tui.widgets.samples_text import rates_line


def test_a_run_of_one_step_says_one_step() -> None:
    assert training_lines(TrainFigures(steps=1, tokens=1))[0] == "1 step, 1 token"
    assert training_lines(TrainFigures(steps=40, tokens=2048))[0] == "40 steps, 2,048 tokens"


def test_a_generation_of_one_token_says_one_token() -> None:
    done = Done(
        model="custom", run="r", text="a", tokens=1, finish_reason="length", stop=None, seed=7, seconds=0.1, time_to_first_token_s=None, tokens_per_s=None
    )
    assert done_line(done).startswith("1 token\n")


def test_one_sample_says_one_sample() -> None:
    assert rates_line(SampleRates(count=1, worse=0), []).startswith("1 sample, 0 where")
