"""The key footer, rebuilt only when the keys it shows change."""

from __future__ import annotations

from collections.abc import Hashable

from textual.screen import Screen
from textual.widgets import Footer


def shown_keys(screen: Screen) -> tuple[Hashable, ...]:
    """What ``Footer.compose`` draws from ``screen``'s active bindings: the shown keys and the palette's, each with its state and tooltip."""
    palette = screen.app.COMMAND_PALETTE_BINDING
    return tuple(
        (key, binding.key_display, binding.action, binding.description, binding.group, binding.tooltip, enabled, tooltip)
        for key, (_, binding, enabled, tooltip) in screen.active_bindings.items()
        if binding.show or key == palette
    )


class KeysFooter(Footer):
    """Textual's ``Footer``, which skips the rebuild when a change of bindings leaves its keys as they were.

    Textual's footer removes and mounts all its keys, and the screen lays
    itself out again, on every change of bindings, which comes with every
    focus move: a Tab from one setting to the next (text boxes whose own
    keys are not shown) rebuilt an identical footer (``bench/tui_focus.py``).
    """

    def __init__(self) -> None:
        super().__init__(compact=True)  # compact: a screen's own keys, F1 and the F2-F4 group fit 80 columns
        self._shown: tuple[Hashable, ...] | None = None

    def bindings_changed(self, screen: Screen) -> None:
        if screen.app.app_focus and self.is_attached and screen is self.screen:  # when Footer would rebuild
            shown = shown_keys(screen)
            if self._bindings_ready and shown == self._shown:
                return
            self._shown = shown
        super().bindings_changed(screen)
