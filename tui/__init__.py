"""finetui's terminal front ends: the Textual app and the command line.

Nothing here imports torch, transformers or peft at module level: the TUI
must paint its first screen in under a second.
"""

#: Set to show the traceback of an unexpected error instead of its one line, in the CLI and in the TUI.
DEBUG_ENV = "FINETUI_DEBUG"
