"""Focus moves: the panel that holds the focus has the accent border, and a move inside a panel restyles only what it
moves between; the footer is rebuilt only when the keys it shows change."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.css.model import CombinatorType, SelectorType
from textual.css.stylesheet import Stylesheet
from textual.dom import DOMNode
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Button, Input
from textual.widgets._footer import FooterKey

import tui
from tests.pilot_helpers import until
from tests.test_tui_train import open_train
from tui.app import FOCUSED_PANEL, FinetuiApp
from tui.widgets.footer import KeysFooter

HAIKU = Path("sample_data/haiku.txt")
SIZE = (80, 24)

pytestmark = pytest.mark.usefixtures("tui_env")


def border_is_accent(panel: Widget) -> bool:
    return panel.styles.border_top[1] == Color.parse(panel.app.theme_variables["accent"])


async def test_the_focused_panel_has_the_accent_border_and_only_it() -> None:
    async with FinetuiApp().run_test(size=SIZE) as pilot:
        screen = pilot.app.screen
        files, recent = screen.query_one("#files-panel"), screen.query_one("#recent-panel")
        await until(pilot, lambda: files.has_class(FOCUSED_PANEL))  # the file tree has the focus at start
        assert border_is_accent(files) and not border_is_accent(recent) and not recent.has_class(FOCUSED_PANEL)
        await pilot.press("tab")  # the path box, in the form: no panel
        await until(pilot, lambda: pilot.app.focused is screen.query_one("#path"))
        await until(pilot, lambda: not files.has_class(FOCUSED_PANEL))
        assert not border_is_accent(files) and not screen.query(f".{FOCUSED_PANEL}")
        await pilot.press("shift+tab")
        await until(pilot, lambda: files.has_class(FOCUSED_PANEL) and border_is_accent(files))


@contextmanager
def restyles(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[DOMNode]]:
    """The nodes Textual restyles while the block runs."""
    seen: set[DOMNode] = set()
    update_nodes = Stylesheet.update_nodes

    def spy(self: Stylesheet, nodes, animate: bool = False) -> None:  # type: ignore[no-untyped-def]
        nodes = list(nodes)
        seen.update(nodes)
        update_nodes(self, nodes, animate=animate)

    with monkeypatch.context() as patch:
        patch.setattr(Stylesheet, "update_nodes", spy)
        yield seen


async def restyled_by(pilot: Pilot, key: str, monkeypatch: pytest.MonkeyPatch) -> set[DOMNode]:
    """The nodes Textual restyles for the focus move that ``key`` makes, and what that move leads to."""
    with restyles(monkeypatch) as seen:
        before = pilot.app.focused
        await pilot.press(key)
        await until(pilot, lambda: pilot.app.focused is not before)
        await pilot.pause()
    return seen


@pytest.mark.slow
async def test_a_tab_between_settings_restyles_the_two_fields_not_the_panel(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FinetuiApp(start_path=HAIKU).run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        settings = screen.query_one("#settings")
        epochs = screen.query_one("#epochs", Input)
        epochs.focus()
        await until(pilot, lambda: settings.has_class(FOCUSED_PANEL))
        restyled = await restyled_by(pilot, "tab", monkeypatch)
        moved_to = pilot.app.focused
        assert moved_to is not None and moved_to in settings.walk_children() and settings.has_class(FOCUSED_PANEL)
        assert settings not in restyled, "the panel's look did not change: it must not be restyled"
        others = [w for w in settings.query(Input) if w not in (epochs, moved_to)]
        assert others and not any(w in restyled for w in others), "fields the focus did not touch were restyled"
        assert len(restyled) < len(list(settings.walk_children())) // 2
        keys = list(screen.query(FooterKey))
        await pilot.press("tab")  # and the footer, whose keys stay the same, is not rebuilt
        await until(pilot, lambda: pilot.app.focused is not moved_to)
        await pilot.pause()
        assert keys and list(screen.query(FooterKey)) == keys and all(key.is_attached for key in keys)


class SaveButton(Button):
    BINDINGS = [Binding("ctrl+s", "save", "Save")]

    def action_save(self) -> None:
        pass

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if action == "save" and getattr(self.app, "busy", False) else True


class Keys(App[None]):
    """Two text boxes with no keys of their own to show, and a button that shows one (Save), which ``busy`` disables."""

    busy = False

    def compose(self) -> ComposeResult:
        yield Input(id="one")
        yield Input(id="two")
        yield SaveButton("Save", id="save")
        yield KeysFooter()


def footer_keys(app: App[None]) -> list[tuple[str, bool]]:
    return [(key.description, key.has_class("-disabled")) for key in app.screen.query(FooterKey) if key.description]


async def test_the_footer_follows_the_keys_and_is_rebuilt_only_when_they_change() -> None:
    app = Keys()
    async with app.run_test(size=(60, 8)) as pilot:
        app.set_focus(app.query_one("#one"))
        await pilot.pause()
        await until(pilot, lambda: bool(app.screen.query(FooterKey)))
        keys = list(app.screen.query(FooterKey))
        await pilot.press("tab")
        await until(pilot, lambda: app.focused is app.query_one("#two"))
        await pilot.pause()
        assert list(app.screen.query(FooterKey)) == keys, "the same keys: not rebuilt"
        assert "Save" not in [d for d, _ in footer_keys(app)]
        await pilot.press("tab")  # the button: its Save key shows
        await until(pilot, lambda: ("Save", False) in footer_keys(app))
        app.busy = True
        app.refresh_bindings()  # as a screen does when what its keys may do changes
        await until(pilot, lambda: ("Save", True) in footer_keys(app))
        await pilot.press("shift+tab")  # back to a text box: Save goes
        await until(pilot, lambda: "Save" not in [d for d, _ in footer_keys(app)])


@pytest.mark.slow
async def test_the_focus_entering_a_panel_restyles_the_panels_not_what_they_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FinetuiApp(start_path=HAIKU).run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        model, settings = screen.query_one("#model-panel"), screen.query_one("#settings")
        left = model.query(Input).first()
        left.focus()
        await until(pilot, lambda: model.has_class(FOCUSED_PANEL))
        epochs = screen.query_one("#epochs", Input)
        with restyles(monkeypatch) as restyled:
            epochs.focus()
            await until(pilot, lambda: settings.has_class(FOCUSED_PANEL) and not model.has_class(FOCUSED_PANEL))
            await pilot.pause()
        assert border_is_accent(settings) and not border_is_accent(model)
        assert {settings, model} <= restyled
        held = [w for w in settings.query(Input) if w is not epochs] + [w for w in model.query(Input) if w is not left]
        assert held and not [w for w in held if w in restyled], "a panel's class restyled the fields it holds"


def test_no_rule_styles_what_a_focused_panel_holds() -> None:
    """``_mark_focused_panel`` restyles the panels alone, which is right only while no rule selects inside a focused panel."""
    stylesheet = Stylesheet(variables=App().get_css_variables())
    sources = sorted(Path(tui.__file__).parent.rglob("*.tcss"))
    for source in sources:
        stylesheet.read(source)
    stylesheet.parse()
    chains = [selectors.selectors for rule in stylesheet.rules for selectors in rule.selector_set]
    marked = [chain for chain in chains if any(s.type == SelectorType.CLASS and s.name == FOCUSED_PANEL for s in chain)]
    assert marked, f"no rule of {[str(s) for s in sources]} styles .{FOCUSED_PANEL}"
    for chain in marked:
        at = next(i for i, s in enumerate(chain) if s.name == FOCUSED_PANEL)
        assert all(s.combinator == CombinatorType.SAME for s in chain[at + 1 :]), f"a rule selects inside a focused panel: {chain}"
