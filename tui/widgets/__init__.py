"""Widgets reused across screens; each carries its own ``DEFAULT_CSS``."""
