"""The recent-files store behind the data screen's list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import recent
from engine.recent import MAX_RECENT, RecentFile


def test_empty_until_something_is_remembered(finetui_home: Path) -> None:
    assert recent.load() == []
    assert not finetui_home.exists()


def test_newest_first_without_duplicates(tmp_path: Path, finetui_home: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.jsonl"
    recent.remember(RecentFile(a, separator="--SEP--"))
    recent.remember(RecentFile(b, format="jsonl"))
    recent.remember(RecentFile(a, separator="###"))
    assert recent.load() == [RecentFile(a, separator="###"), RecentFile(b, format="jsonl")]
    assert json.loads((finetui_home / "recent.json").read_text())[0] == {"path": str(a), "format": None, "separator": "###"}


def test_paths_are_stored_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    recent.remember(RecentFile(Path("data.txt")))
    assert recent.load() == [RecentFile(tmp_path / "data.txt")]


def test_keeps_only_the_latest(tmp_path: Path) -> None:
    for i in range(MAX_RECENT + 3):
        recent.remember(RecentFile(tmp_path / f"{i}.txt"))
    names = [e.path.name for e in recent.load()]
    assert names == [f"{i}.txt" for i in reversed(range(3, MAX_RECENT + 3))]


@pytest.mark.parametrize("content", ["{not json", '{"path": "x"}', "", "\x00\x01"])
def test_a_corrupt_store_reads_as_empty_and_is_replaced(tmp_path: Path, finetui_home: Path, content: str) -> None:
    finetui_home.mkdir()
    (finetui_home / "recent.json").write_text(content)
    assert recent.load() == []
    recent.remember(RecentFile(tmp_path / "a.txt"))
    assert recent.load() == [RecentFile(tmp_path / "a.txt")]


def test_bad_entries_are_skipped(finetui_home: Path) -> None:
    finetui_home.mkdir()
    entries = [{"path": "/data/a.txt"}, {"path": ""}, {"path": 3}, "b.txt", {"path": "/data/c.csv", "separator": 1}]
    (finetui_home / "recent.json").write_text(json.dumps(entries))
    assert recent.load() == [RecentFile(Path("/data/a.txt"))]


def test_writes_leave_no_temp_files(tmp_path: Path, finetui_home: Path) -> None:
    recent.remember(RecentFile(tmp_path / "a.txt"))
    recent.remember(RecentFile(tmp_path / "b.txt"))
    assert [p.name for p in finetui_home.iterdir()] == ["recent.json"]
