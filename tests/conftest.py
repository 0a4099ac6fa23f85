"""Fixtures every test gets: finetui writes only under a fresh, empty home folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def finetui_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``FINETUI_HOME`` at a per-test folder that does not exist yet.

    Nothing a test runs can touch the user's real data folder, and a test can
    check what (if anything) was written there.
    """
    home = tmp_path_factory.mktemp("finetui-home") / "home"
    monkeypatch.setenv("FINETUI_HOME", str(home))
    return home
