"""finetui's engine: data, models, training runs and inference.

Nothing in this package imports textual; heavy libraries (torch, transformers,
peft) are imported inside the functions that need them, so that the data
tools and the TUI start fast.
"""
