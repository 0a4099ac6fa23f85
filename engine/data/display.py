"""Data text made safe to show in a terminal.

Training files carry whatever their authors pasted: a terminal escape
sequence in an example, printed raw by ``inspect`` or drawn by the TUI,
would recolour the screen or retitle the tmux pane. Shown text escapes
every control character except newline and tab.
"""

from __future__ import annotations

import re

#: C0 controls but newline and tab, DEL, and the C1 controls (ESC's 8-bit twins, like CSI 0x9b).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    """``text`` with each control character written as ``\\xNN``: ESC shows as ``\\x1b``, a carriage return as ``\\x0d``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
