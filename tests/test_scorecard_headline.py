"""The scorecard leads with what a user asks first: how many held-out questions the custom model answers right.

Token accuracy is teacher-forced (each token predicted from the true ones
before it), so a facts run that goes 8.7% → 96.2% on it may answer only a
quarter of the held-out questions right. The answer-level rate of the samples
comes first where the data has answers, each figure labelled for what it
measures, on the run page and in ``finetui show``. The page and ``show``
also say when the eval loss rose after its lowest point, and which
checkpoint the custom model is.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from engine.files import write_json_atomic
from engine.infer.protocol import Averages, Scores
from engine.runs import Run
from engine.runs.events import EvalFigures, SampleRates
from tests.fixed_runs import METRICS, SIZE, events_in, run_page, text_of, write_run
from tests.pilot_helpers import until
from tui.app import FinetuiApp
from tui.cli import main
from tui.widgets.scorecard import Scorecard

pytestmark = pytest.mark.usefixtures("tui_env")

#: A default facts run: token accuracy soars, a quarter of the held-out questions answered right.
FACTS_RATES = SampleRates(24, 2, "prompt_completion", 0.0, 0.0, 1 / 24, 0.25)
FACTS = replace(METRICS, baseline=EvalFigures(5.91, 0.087, 1234), custom=EvalFigures(0.21, 0.962, 1234), samples=FACTS_RATES)
#: An eval curve that bottoms out at step 36 and rises after (overfitting).
RISING = ((0, 6.2), (12, 5.1), (24, 4.7), (36, 4.615), (48, 4.9), (60, 5.288))


def row(lines: list[str], start: str) -> int:
    """The index of the line that starts with ``start`` (spaces before it aside)."""
    found = [i for i, line in enumerate(lines) if line.strip().startswith(start)]
    assert found, f"no line starts with {start!r} in:\n" + "\n".join(lines)
    return found[0]


def write_ready(run_id: str, card=FACTS) -> Run:
    run = write_run(run_id, "ready", name="facts", steps=60)
    write_json_atomic(run.metrics_path, card.to_json())
    return run


async def test_the_run_page_leads_with_answers_right_then_teacher_forced_token_accuracy() -> None:
    run = write_ready("20260101-0900-facts")
    async with FinetuiApp().run_test(size=SIZE) as pilot:
        screen = await run_page(pilot, run.id, events_in(run))
        card = screen.query_one(Scorecard)
        await until(pilot, lambda: card.metrics is not None)
        lines = card.render().plain.splitlines()
        answers = row(lines, "answers right")
        tokens = row(lines, "token accuracy")
        assert answers < tokens
        assert lines[answers].split() == ["answers", "right", "0%", "→", "25%", "+25", "pt"]
        assert "contains the reference · 24 prompts" in lines[answers + 1]
        assert lines[tokens].split()[2:5] == ["8.7%", "→", "96.2%"]
        assert "teacher-forced" in lines[tokens + 1] and "1,234 tokens" in lines[tokens + 1]
        assert all(len(line) <= 36 for line in lines)  # the panel's width: nothing cut


async def test_plain_text_data_has_no_answers_and_its_token_accuracy_says_how_it_is_measured() -> None:
    run = write_ready("20260101-0900-haiku", METRICS)
    async with FinetuiApp().run_test(size=SIZE) as pilot:
        screen = await run_page(pilot, run.id, events_in(run))
        card = screen.query_one(Scorecard)
        await until(pilot, lambda: card.metrics is not None)
        text = card.render().plain
        assert "answers right" not in text and "token accuracy" in text and "teacher-forced" in text


def test_show_leads_with_answers_right_labelled_for_what_each_figure_measures(capsys: pytest.CaptureFixture[str]) -> None:
    run = write_ready("20260101-0900-facts")
    assert main(["show", run.id]) == 0
    lines = capsys.readouterr().out.splitlines()
    answers = row(lines, "answers right")
    tokens = row(lines, "next-token accuracy (teacher-forced)")
    assert answers < tokens
    assert lines[answers].split()[-5:] == ["0%", "→", "25%", "+25", "points"]
    assert "contains the reference; greedy decoding, 24 held-out prompts" in lines[answers + 1]
    assert lines[tokens].split()[-5:] == ["8.7%", "→", "96.2%", "+87.5", "points"]


def test_the_overfit_note_names_the_lowest_point_the_end_and_what_helps() -> None:
    from tui.format import overfit_note

    kept = replace(METRICS.train, eval_curve=RISING, kept_step=36)
    note = overfit_note(kept)
    assert note is not None
    assert note.startswith("Eval loss rose after its lowest, 4.615 at step 36 (5.288 at the end)")
    assert "the custom model is the step-36 checkpoint" in note
    assert all(words in note for words in ("fewer epochs", "a lower learning rate", "more data", "--early-stop"))
    last = overfit_note(replace(kept, kept_step=None))
    assert last is not None and "the custom model is the last step's" in last and "--load-best" in last
    assert overfit_note(replace(kept, eval_curve=RISING[:4])) is None  # it fell all the way
    assert overfit_note(replace(kept, eval_curve=())) is None


async def test_the_run_page_says_when_the_eval_loss_rose_after_its_lowest() -> None:
    run = write_ready("20260101-0900-facts", replace(FACTS, train=replace(FACTS.train, eval_curve=RISING, kept_step=36)))
    async with FinetuiApp().run_test(size=SIZE) as pilot:
        screen = await run_page(pilot, run.id, events_in(run))
        await until(pilot, lambda: "rose after its lowest" in text_of(screen, "#run-reason"))
        note = text_of(screen, "#run-reason")
        assert "4.615 at step 36 (5.288 at the end)" in note and "step-36 checkpoint" in note
        assert screen.query_one("#run-reason").display


def test_show_says_when_the_eval_loss_rose_after_its_lowest(capsys: pytest.CaptureFixture[str]) -> None:
    run = write_ready("20260101-0900-facts", replace(FACTS, train=replace(FACTS.train, eval_curve=RISING, kept_step=36)))
    assert main(["show", run.id]) == 0
    out = capsys.readouterr().out
    assert "Eval loss rose after its lowest, 4.615 at step 36 (5.288 at the end)" in " ".join(out.split())


def test_the_likelihood_note_explains_a_text_of_several_examples() -> None:
    from tui.format import likelihood_note

    def scores(baseline: float, custom: float) -> dict[str, Scores]:
        return {model: Scores(model=model, run=None, averages=Averages(value, math.exp(-value), 40), texts=())
                for model, value in (("baseline", baseline), ("custom", custom))}

    two_haiku = "first thaw of the year\nthe gutter remembers how\nto sing to the drain\n\nplum blossom at dawn\na sparrow shakes the branch"
    note = likelihood_note(two_haiku, scores(-5.990, -6.121))
    assert note is not None and "end-of-text" in note and "one example at a time" in note
    assert likelihood_note("first thaw of the year\nthe gutter remembers how", scores(-5.990, -6.121)) is None  # one example
    assert likelihood_note(two_haiku, scores(-6.121, -5.990)) is None  # custom higher: nothing to explain
