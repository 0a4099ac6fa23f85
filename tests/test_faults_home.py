"""Fault injection into the home folder: read-only and full homes give one-line errors and lose nothing.

A real tmpfs where this machine can mount one, else injected EROFS/ENOSPC
errors; the runs in it are written by hand (tests/run_folders.py).
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from engine.runs import RunStore
from engine.runs.process import refresh
from engine.runs.status import Status
from tests.run_folders import cli, one_line_error, ready_run, snapshot

# --- read-only and full homes --------------------------------------------------------------------


@contextmanager
def _tmpfs(size: str) -> Iterator[Path]:
    """A fresh tmpfs of ``size``, or a skip when this machine can't mount one (not root, no CAP_SYS_ADMIN)."""
    where = Path(tempfile.mkdtemp(prefix="finetui-tmpfs-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        where.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip() or 'mount failed'}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
        shutil.rmtree(where, ignore_errors=True)


def _inject(monkeypatch: pytest.MonkeyPatch, root: Path, code: int) -> None:
    """Make every write under ``root`` fail with ``code`` (EROFS, ENOSPC), as the kernel would.

    For machines where a tmpfs can't be mounted, and for root, whom file
    modes don't stop. Reads go through untouched.
    """
    prefix = str(root)

    def under(path: object) -> bool:
        return isinstance(path, str | os.PathLike) and os.path.abspath(os.fspath(path)).startswith(prefix)

    def fail(path: object) -> None:
        raise OSError(code, os.strerror(code), os.fspath(path))  # type: ignore[arg-type]

    real_open, real_io_open = os.open, io.open
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def os_open(path, flags, *args, **kwargs):
        if flags & writing and under(path):
            fail(path)
        return real_open(path, flags, *args, **kwargs)

    def io_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and under(file):
            fail(file)
        return real_io_open(file, mode, *args, **kwargs)

    def two_paths(real: Callable) -> Callable:
        def call(src, dst, *args, **kwargs):
            if under(src) or under(dst):
                fail(src)
            return real(src, dst, *args, **kwargs)

        return call

    def one_path(real: Callable) -> Callable:
        def call(path, *args, **kwargs):
            if under(path):
                fail(path)
            return real(path, *args, **kwargs)

        return call

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(io, "open", io_open)
    monkeypatch.setattr("builtins.open", io_open)
    monkeypatch.setattr(os, "mkdir", one_path(os.mkdir))
    if code == errno.ENOSPC:
        return  # a full disk still renames and deletes: that needs no space, or frees some
    for name in ("rename", "replace"):
        monkeypatch.setattr(os, name, two_paths(getattr(os, name)))
    for name in ("unlink", "rmdir", "remove"):
        monkeypatch.setattr(os, name, one_path(getattr(os, name)))


def _hostile_home(kind: str, how: str, finetui_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A home to fill with runs (first ``next``), then turned read-only or full (second ``next``).

    By a real tmpfs where this machine can mount one, else by injected errors.
    """
    if how == "tmpfs":
        with _tmpfs("4m") as mount:
            home = mount / "home"
            monkeypatch.setenv("FINETUI_HOME", str(home))
            yield home
            if kind == "read-only":
                done = subprocess.run(["mount", "-o", "remount,ro", str(mount)], capture_output=True)
                assert done.returncode == 0, done.stderr
            else:
                with (mount / "filler").open("wb", buffering=0) as fh:
                    try:
                        while True:
                            fh.write(b"\0" * 4096)
                    except OSError as exc:
                        assert exc.errno == errno.ENOSPC
            yield home
    else:
        yield finetui_home
        _inject(monkeypatch, finetui_home, errno.EROFS if kind == "read-only" else errno.ENOSPC)
        yield finetui_home


@pytest.mark.parametrize("how", ["tmpfs", "injected"])
@pytest.mark.parametrize("kind", ["read-only", "full"])
def test_a_read_only_or_full_home_gives_one_line_errors_and_loses_nothing(capsys, monkeypatch, finetui_home, kind, how, tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("\n--SEP--\n".join(f"example number {i} of a small data file" for i in range(20)))
    hostile = _hostile_home(kind, how, finetui_home, monkeypatch)
    try:
        home = next(hostile)
        store = RunStore(home / "runs")
        ready, stopped = ready_run(store, "ready"), ready_run(store, "stopped")
        stopped.write_status(Status.from_dict({**stopped.status().to_dict(), "state": "training", "updated_at": 0.0}))
        next(hostile)  # now read-only, or full
        before = snapshot(home)

        code, out, _ = cli(capsys, "runs")
        assert code == 0 and ready.id in out and "failed" in out  # the dead worker reads as failed, unwritten
        if kind == "full" and how == "tmpfs":
            assert "the disk is full" in str(refresh(stopped).reason)
        for args in (("show", ready.id), ("show", stopped.id, "--json"), ("logs", ready.id)):
            code, _, err = cli(capsys, *args)
            assert code == 0, err
        code, _, err = cli(capsys, "train", str(data), "--separator", "--SEP--", "--max-steps", "2", "--detach")
        one_line_error(code, err, "train")
        code, _, err = cli(capsys, "resume", stopped.id)
        one_line_error(code, err, "resume")
        code, _, err = cli(capsys, "cancel", stopped.id)
        one_line_error(code, err, "cancel")  # its worker is gone: it is failed, not cancellable
        assert snapshot(home) == before
        code, _, err = cli(capsys, "rm", ready.id)
        if kind == "read-only":
            one_line_error(code, err, "rm")
            assert snapshot(home) == before
        else:  # renaming needs no space, and deleting frees some
            assert code == 0, err
            assert not ready.dir.exists()
        assert snapshot(stopped.dir) == {k.split("/", 2)[-1]: v for k, v in before.items() if k.startswith(f"runs/{stopped.id}/")}
        assert refresh(stopped).state == "failed"
    finally:
        hostile.close()

