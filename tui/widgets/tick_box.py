"""A checkbox that looks unticked when it is: Textual's draws the same X in both states, told apart by colour alone."""

from __future__ import annotations

from textual.widgets import Checkbox

#: The glyph inside the box when ticked, and when not: a blank box reads as "off" in every theme, ANSI included.
TICKED, UNTICKED = "✓", " "


class TickBox(Checkbox):
    """Textual's ``Checkbox`` with a tick when on and an empty box when off.

    ``ToggleButton`` draws ``BUTTON_INNER`` ("X") whatever the value and
    dims it when off; in the ANSI theme and on many terminals a dim X is
    still an X, so unticked settings read as ticked.
    """

    @property  # type: ignore[override]
    def BUTTON_INNER(self) -> str:  # noqa: N802 - the name ToggleButton._button reads
        return TICKED if self.value else UNTICKED
