"""An export's folder: what ``--force`` may replace, the stamp that proves finetui wrote it, the hidden siblings, the move in.

An export is written to a hidden sibling (``.NAME.partial-PID``) and renamed
into place once whole, so a crash never leaves half an export under NAME.
Replacing and cleaning up both delete folders, so both go by one rule: finetui
deletes only what it wrote. Every export folder holds ``STAMP``
(``.finetui-export.json``: the run, the target, the process and when), written
before anything else, so a folder without it is the user's and is never
replaced, whatever ``--force`` says. On top of that, some places are refused
outright because replacing them would take more than an export with them: the
working folder or one that holds it, finetui's home or anything in it but
``HOME/exports/...``, a run folder, a file.

The path is judged as given, made absolute and normalised
(``os.path.abspath``), never ``resolve()``d: ``Path('')`` is the working
folder and a symlink named as the output is the link, which is what gets
replaced, never the folder it points to. Only the parent is resolved, to see
where the entry really lives.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

from engine.export.errors import ExportError
from engine.paths import home

#: The file in every export folder that says finetui wrote it; ``--force`` replaces only a folder holding it.
STAMP = ".finetui-export.json"
#: The hidden siblings an export leaves while it runs: the one being written and the one being replaced.
_HIDDEN = re.compile(r"^\..+\.(?:partial|replaced)-(?P<pid>\d+)$")
_RUN_FILES = ("config.json", "status.json")


def out_path(out: Path) -> Path:
    """``out`` made absolute and normalised, links and all left as named (``--out ''`` is the working folder)."""
    return Path(os.path.abspath(os.path.expanduser(out)))


def _where(path: Path) -> Path:
    """Where the entry ``path`` names really is: its parent resolved, its own name kept (a link stays a link)."""
    return Path(os.path.realpath(path.parent)) / path.name


def check_out(out: Path, force: bool) -> None:
    """Refuse an output folder an export must not write to or replace; ``ExportError`` ``unsafe`` (or ``exists``).

    ``out`` is absolute (``out_path``). Refusals that ``--force`` can't
    lift come first, so a user is never told to pass ``--force`` only to be
    refused again.
    """
    where, finetui_home = _where(out), Path(os.path.realpath(home()))
    exports = finetui_home / "exports"
    if _is_run(out):
        raise ExportError(f"{out} is a run folder: an export never replaces a run; choose another folder", "unsafe")
    if where == finetui_home:
        raise ExportError(f"{out} is finetui's home folder (its runs and exports): an export never replaces it; choose another folder", "unsafe")
    if finetui_home in where.parents and exports not in where.parents:
        raise ExportError(f"{out} is inside finetui's home folder but not in its exports folder: an export never goes there; "
                          f"choose {exports}/NAME or a folder outside {finetui_home}", "unsafe")
    if not os.path.lexists(out):
        return
    cwd = Path.cwd()
    if where == cwd or where in cwd.parents:
        what = "the working folder" if where == cwd else f"a folder that holds the working folder ({cwd})"
        raise ExportError(f"{out} is {what}: an export never replaces it; choose another folder", "unsafe")
    if where in finetui_home.parents:
        raise ExportError(f"{out} holds finetui's home folder {finetui_home}: an export never replaces it; choose another folder", "unsafe")
    if out.is_symlink():
        if not force:
            raise ExportError(f"{out} exists (a link: replacing it replaces the link, not what it points to)", "exists")
        return
    if not out.is_dir():
        raise ExportError(f"{out} is a file, not an export folder: an export never replaces it; remove it yourself or choose another folder",
                          "unsafe")
    if not stamped(out):
        raise ExportError(f"{out} was not written by finetui export (it has no {STAMP}): an export never replaces it; "
                          "remove it yourself or choose another folder", "unsafe")
    if not force:
        raise ExportError(f"{out} exists", "exists")  # each front end says how to replace it or go elsewhere


def _is_run(path: Path) -> bool:
    return not path.is_symlink() and all((path / name).is_file() for name in _RUN_FILES)


def stamped(folder: Path) -> bool:
    """Whether ``folder`` (a real folder, not a link) holds finetui's export stamp."""
    try:
        data = json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "finetui_export" in data


def stamp(folder: Path, run_id: str, what: str) -> None:
    """Mark ``folder`` as the export ``what`` (``hf-fp32``...) of ``run_id``; written first, so even a killed export's folder is provably finetui's."""
    record = {"finetui_export": 1, "run": run_id, "export": what, "pid": os.getpid(),
              "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (folder / STAMP).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def remove_export(folder: Path) -> None:
    """Delete an export folder (or a link to one), the stamp last: a removal cut short leaves a folder still marked as finetui's."""
    if folder.is_symlink() or not folder.is_dir():
        folder.unlink(missing_ok=True)
        return
    for entry in folder.iterdir():
        if entry.name == STAMP:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    (folder / STAMP).unlink(missing_ok=True)
    folder.rmdir()


def stale_siblings(out: Path) -> list[Path]:
    """Hidden folders that exports into ``out``'s parent left when they were killed: theirs (stamped or empty), their process gone."""
    try:
        entries = list(out.parent.iterdir())
    except OSError:
        return []
    stale = []
    for entry in entries:
        match = _HIDDEN.match(entry.name)
        if match is None or _alive(int(match["pid"])):
            continue
        if entry.is_symlink() or (entry.is_dir() and (stamped(entry) or not any(entry.iterdir()))):
            stale.append(entry)
    return stale


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process (or a pid no process can have: leave it be)
    return True


def hidden_partial(out: Path) -> Path:
    return out.parent / f".{out.name}.partial-{os.getpid()}"


def normal_modes(folder: Path) -> None:
    """Give every file in ``folder`` the mode a new file gets here (0666 less the umask): safetensors writes 0600."""
    mask = os.umask(0)
    os.umask(mask)
    for file in folder.rglob("*"):
        if file.is_file() and not file.is_symlink():
            file.chmod(0o666 & ~mask)


def free_name(parent: Path, name: str) -> Path:
    """``parent/name`` if it is free or an export finetui may replace, else the first free ``name-2``, ``name-3``..."""
    candidate, n = parent / name, 1
    while os.path.lexists(candidate) and not (candidate.is_symlink() or (candidate.is_dir() and stamped(candidate))):
        n += 1
        candidate = parent / f"{name}-{n}"
    return candidate


def move_into_place(partial: Path, out: Path) -> None:
    """Rename the finished export ``partial`` to ``out``, replacing what ``check_out`` allowed there.

    Whatever fails, nothing stays hidden: either the old export is back under
    ``out`` and the new one removed, or the error says where each one is.
    """
    old = None
    if os.path.lexists(out):
        old = out.parent / f".{out.name}.replaced-{os.getpid()}"
        try:
            os.rename(out, old)
        except OSError as exc:
            remove_export(partial)
            raise ExportError(f"could not move {out} aside to replace it ({exc.strerror or exc}): it is as it was, and the new export was removed",
                              "move") from None
    try:
        os.rename(partial, out)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if old is None:
            remove_export(partial)
            raise ExportError(f"could not move the finished export into {out} ({reason}): it was removed; try again or choose another folder",
                              "move") from None
        try:
            os.rename(old, out)
        except OSError:
            raise ExportError(f"could not move the finished export into {out} ({reason}), nor put the old one back: "
                              f"the old export is in {old}, the new one in {partial}", "move") from None
        remove_export(partial)
        raise ExportError(f"could not move the finished export into {out} ({reason}): the old export is back in place and the new one was removed",
                          "move") from None
    if old is not None:
        remove_export(old)
