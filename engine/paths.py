"""Where finetui keeps its own files.

Everything finetui writes lives under one folder, so that a user (or a test)
can move it with one variable: ``FINETUI_HOME`` wins over the platform's
data folder from platformdirs.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO_ROOT / "sample_data"


def home() -> Path:
    """The folder finetui writes to (runs, recent files); not created here."""
    override = os.environ.get("FINETUI_HOME")
    if override:
        return Path(override).expanduser()
    return Path(user_data_dir("finetui", appauthor=False))
