"""What every full screen of finetui shares."""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.screen import Screen
from textual.worker import Worker, WorkerState


class FinetuiScreen(Screen[None]):
    """A full screen whose workers can fail without taking the app down, styled once when first shown.

    Workers run with ``exit_on_error=False``; this one handler turns any
    error they did not expect into a dialog, so a bug shows as a message the
    user can dismiss, not as a traceback that ends the session.
    """

    _css_at_compose: int | None = None
    """The app's stylesheet generation when this screen's widgets were made, and styled."""
    _suspended = False

    def on_compose(self) -> None:
        """Note the stylesheet's generation: Textual sends ``Compose`` before it makes (and styles) the widgets."""
        self._css_at_compose = self.app._css_update_count

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        """Spare the whole-screen restyle that Textual does when a screen is first shown, if nothing could have changed it.

        Textual styles each widget as it mounts, then, when the screen is
        shown (once more for a mode's first switch), styles every widget of
        the screen again: 25-30 ms of CPU before finetui's first paint here,
        more for the bigger screens. The widgets were styled moments before,
        by the same stylesheet unless the app's CSS changed since (a theme
        chosen, a CSS file changed): then the restyle stays, as it does on
        every show after the screen was first left. Textual calls this
        before its own ``Screen`` handler, which reads ``refresh_styles``.
        ``tests/test_tui_styles.py`` checks that restyling each screen after
        its first show changes nothing.
        """
        if not self._suspended and self._css_at_compose == self.app._css_update_count:
            event.refresh_styles = False

    def on_screen_suspend(self) -> None:
        self._suspended = True

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        error = event.worker.error
        if event.state is WorkerState.ERROR and error is not None:
            from tui.screens.dialogs import ErrorScreen  # not before the first paint: no screen needs it then

            self.log.error(f"worker {event.worker.name!r} failed", error)
            self.app.push_screen(ErrorScreen("Unexpected error", f"{type(error).__name__}: {error}"))


def screen_css(name: str) -> str:
    """A screen's ``.tcss`` file beside this module, for its ``DEFAULT_CSS``.

    Default CSS joins the app's stylesheet as a widget's does: parsed once,
    when the screen is first shown. Through ``CSS_PATH``, Textual re-parsed
    every CSS source of the app (its widgets' too) and restyled every widget
    each time a screen with a file of its own was first shown. Default CSS
    ranks below the app's ``app.tcss``, so a screen's file never overrides
    that; ``SCOPED_CSS = False`` keeps its rules as written (each names the
    screen or ids of its own).
    """
    return (Path(__file__).parent / name).read_text(encoding="utf-8")


def display_path(path: Path) -> str:
    """``path`` as people like to read it: relative to the working folder when inside it, else with ``~``.

    The working folder itself is shown by its full name, not as ``.``.
    """
    absolute = path.expanduser().absolute()
    cwd = Path.cwd()
    if absolute.is_relative_to(cwd) and absolute != cwd:
        return str(absolute.relative_to(cwd))
    home = Path.home()
    if absolute.is_relative_to(home):
        return str(Path("~") / absolute.relative_to(home))
    return str(absolute)
