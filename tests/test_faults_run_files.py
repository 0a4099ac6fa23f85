"""Fault injection into run folders: damaged or truncated run files, bad event lines and empty references.

Every case checks three things: no traceback (an exception escaping the CLI
fails the test), every command's exit code, and the run folders afterwards
(nothing the user had is lost or changed by a command that should only read).
The run folders are written by hand (tests/run_folders.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.runs import RunStore
from tests.run_folders import FILES, cli, damage, one_line_error, ready_run, snapshot, strict_json


@pytest.fixture
def store(finetui_home: Path) -> RunStore:
    return RunStore(finetui_home / "runs")


# --- broken and truncated run files ------------------------------------------------------------


@pytest.mark.parametrize("how", ["empty", "truncated", "garbage", "not an object", "deleted", "a folder"])
@pytest.mark.parametrize("which", sorted(FILES))
def test_a_damaged_run_file_never_breaks_a_command(store, capsys, which, how):
    other = ready_run(store, "other")
    run = ready_run(store, "victim")
    damage(FILES[which](run), how)
    other_before = snapshot(other.dir)
    victim_before = snapshot(run.dir)

    code, out, _ = cli(capsys, "runs")
    assert code == 0 and run.id in out and other.id in out
    code, out, _ = cli(capsys, "runs", "--json")
    rows = {row["id"]: row for row in strict_json(out)}  # type: ignore[union-attr]
    assert code == 0 and rows[other.id]["state"] == "ready"
    if which in ("status", "config"):
        assert rows[run.id]["state"] == "broken" and rows[run.id]["reason"]
    for args in (("show", run.id), ("show", run.id, "--json"), ("logs", run.id), ("show", other.id)):
        code, out, err = cli(capsys, *args)
        assert code == 0, err
        if "--json" in args:
            strict_json(out)
    code, _, err = cli(capsys, "cancel", run.id)
    one_line_error(code, err, "cancel")
    code, _, err = cli(capsys, "resume", run.id)
    one_line_error(code, err, "resume")  # ready or broken: nothing to resume
    assert snapshot(run.dir) == victim_before and snapshot(other.dir) == other_before  # reads never write

    code, out, err = cli(capsys, "rm", run.id)
    assert code == 0, err
    assert not run.dir.exists() and [r.id for r in store.list()] == [other.id]
    assert snapshot(other.dir) == other_before


@pytest.mark.parametrize(
    "line",
    [b"[1, 2]\n", b"\xff\xfe\xfd\n", b'{"kind": "step"}\n', b'{"kind": "eval", "which": "custom"}\n', b'{"time": "noon"}\n',
     b'{"kind": "step", "step": 3, "loss": "high"}\n', b"NaN\n", b'{"kind": "status"'],
)
def test_a_bad_event_line_is_skipped_or_flagged_and_the_log_goes_on(store, capsys, line):
    run = ready_run(store, "haiku")
    with run.events_path.open("ab") as fh:
        fh.write(line)
    if line.endswith(b"\n"):
        run.log("after the bad line")
    code, out, _ = cli(capsys, "logs", run.id)
    assert code == 0 and "status: ready" in out
    if line.endswith(b"\n"):
        assert out.strip().endswith("after the bad line")



# --- references ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["rm", "show", "logs", "cancel", "resume"])
@pytest.mark.parametrize("ref", ["", "  "])
def test_an_empty_reference_is_refused_by_every_command(store, capsys, command, ref):
    run = ready_run(store, "haiku")
    before = snapshot(store.root)
    code, _, err = cli(capsys, command, ref)
    one_line_error(code, err, command)
    assert "no run given" in err and snapshot(store.root) == before and run.dir.is_dir()


def test_rm_by_an_ambiguous_prefix_lists_the_runs_and_removes_none(store, capsys):
    a, b = ready_run(store, "one"), ready_run(store, "two")
    code, _, err = cli(capsys, "rm", a.id[:8])
    one_line_error(code, err, "rm")
    assert a.id in err and b.id in err and a.dir.is_dir() and b.dir.is_dir()

