"""How the playground looks at 80x24 in the app (F4): a finished greedy generation, and a scored text.

The runs are those of ``test_tui_playground`` (fixed ids, none changes
state while the app watches), on the bundled finetui-tiny so the text on
screen is prose (the adapters nudge it, they don't scramble it). Generation is greedy with a fixed seed and the speed on the
done line is pinned. The model is loaded without quantization here:
bitsandbytes' 4-bit CPU kernels differ between CPUs (bf16 on AVX512-BF16,
float32 elsewhere), enough to change greedy tokens and the last digits of a
perplexity, while float32 matmuls agree. So the pictures are the same on
every machine. Update with ``--snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import TabbedContent, TextArea

from tests.test_tui_playground import REPO, SIZE, TEXT, build_world, generate, home, pick_run, until  # noqa: F401
from tui.app import FinetuiApp
from tui.screens.playground import PlaygroundScreen
from tui.widgets import playground_output

BUNDLED = REPO / "sample_data" / "models" / "finetui-tiny"

pytestmark = pytest.mark.slow  # each picture waits on the playground's own inference process


@pytest.fixture(autouse=True)
def steady_speed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens per second differ from run to run; the snapshots show a fixed one."""
    monkeypatch.setattr(playground_output, "format_rate", lambda tokens_per_s: "12.3 tokens/s")
    monkeypatch.chdir(REPO)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The playground tests' runs, on the bundled model in float32 (see the module's docstring)."""
    return build_world(tmp_path_factory.mktemp("tui-playground-snapshots"), BUNDLED, quant="none", adapter_scale=0.02)


def make_app() -> FinetuiApp:
    return FinetuiApp(start_path=Path("tests/fixtures/tui"))


async def open_playground(pilot: Pilot) -> None:
    """F4, and wait for the playground to list its runs."""
    await pilot.press("f4")
    await until(pilot, lambda: isinstance(pilot.app.screen, PlaygroundScreen) and bool(pilot.app.screen.query("#run")), timeout=10)


@pytest.mark.usefixtures("home")
def test_generate_tab(snap_compare, world: dict[str, Any]) -> None:
    """Baseline and custom completions of the same prompt, greedy, side by side, each with its done line."""

    async def run_before(pilot: Pilot) -> None:
        await open_playground(pilot)
        await pick_run(pilot, world["alpha"])
        screen = await generate(pilot, "Question: What is the capital of Ostrevin?\nAnswer:", max_tokens="24", temperature="0", seed="0")
        screen.query_one("#run").focus()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


@pytest.mark.usefixtures("home")
def test_likelihood_tab(snap_compare, world: dict[str, Any]) -> None:
    """Both models' averages, the change, and each token coloured by its log-probability under each."""

    async def run_before(pilot: Pilot) -> None:
        await open_playground(pilot)
        screen = await pick_run(pilot, world["alpha"])
        screen.query_one(TabbedContent).active = "likelihood"
        await pilot.pause()
        screen.query_one("#context", TextArea).text = "Hamlet:"
        screen.query_one("#score-text", TextArea).text = TEXT
        screen.query_one("#score-text", TextArea).focus()
        await pilot.press("ctrl+r")
        await until(pilot, lambda: screen.busy is None and screen.query_one("#custom-tokens").render().plain != "")
        screen.query_one("#run").focus()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)
