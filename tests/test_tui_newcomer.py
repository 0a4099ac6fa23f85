"""What a newcomer to finetui tripped on (issue 38): the train form, the keys, the playground, the example dialog, the CLI's words."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Static

from tests.pilot_helpers import screen_text, settled, until
from tests.test_tui_train import open_train
from tui.app import FinetuiApp

HAIKU = Path("sample_data/haiku.txt")
SIZE = (80, 24)

pytestmark = pytest.mark.usefixtures("tui_env")


def visible(pilot) -> str:
    """The text on the terminal now, rows joined: what the user can read without scrolling."""
    return "\n".join(screen_text(pilot.app.export_screenshot())).replace("\xa0", " ")


@pytest.mark.slow
async def test_train_form_says_what_it_will_do() -> None:
    """Eval every shows the automatic interval, unticked boxes are empty, a focused field's help and a bad value's reason are on screen."""
    from engine.config import setting

    async with FinetuiApp(start_path=HAIKU).run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        # 150 steps (the estimate's) at about 10 evaluations a run: every 15, not "off"
        await until(pilot, lambda: screen.query_one("#eval-steps", Input).placeholder == "auto (every 15)")
        assert "auto (every 15)" in visible(pilot)
        assert str(screen.query_one("#trust-remote-code").render()).startswith("▐ ▌")  # unticked: an empty box
        assert str(screen.query_one("#packing").render()).startswith("▐✓▌")
        # a focused field's help, on screen however far the form is scrolled
        screen.query_one("#lora-r", Input).focus()
        await settled(pilot)
        help_line = setting("lora.r").meta.help
        assert help_line in str(screen.query_one("#field-help", Static).render()) and help_line in visible(pilot)
        # a bad value's reason at once, without Ctrl+S
        screen.query_one("#lora-r", Input).value = "0"
        await until(pilot, lambda: screen.query_one("#lora-r").has_class("-invalid"))
        await settled(pilot)
        assert "LoRA r must be at least 1, not 0" in visible(pilot)


@pytest.mark.slow
def test_automatic_eval_interval_is_the_engines() -> None:
    """The form's "auto (every N)" divides the run as the trainer does (importing it loads transformers: slow)."""
    from engine.train.eval_steps import EVALS_PER_RUN
    from tui.screens.train import AUTO_EVALS

    assert AUTO_EVALS == EVALS_PER_RUN
