"""finetui's terminal front ends: the Textual app and the command line.

Nothing here imports torch, transformers or peft at module level: the TUI
must paint its first screen in under a second.
"""
