"""finetui export deletes only what it wrote: what ``--force`` may replace, hidden leftovers, a failed move, refusals before work.

Each case was found deleting or hiding a user's files: ``--out ''`` or ``.``
with ``--force`` wiped the working folder, ``--out $FINETUI_HOME`` every run,
a symlink its target's contents; a killed export left its hidden copy
forever. The refusals go through the CLI (one line, exit 2, nothing
touched); the exports that must go through are real adapter exports of a
Ready run (tests/fixed_runs.py) with a real LoRA adapter on the shipped base
model, which only copy files.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.export.errors import ExportError
from engine.export.exporter import ExportOptions, export_run, preflight
from engine.paths import SAMPLE_DATA
from engine.runs import Run
from tests.fixed_runs import write_run
from tests.run_folders import _safetensors
from tui.cli import main

RUN = "20260101-0900-haiku"
STAMP = ".finetui-export.json"  # spelled out: the tests also ran against the code from before the stamp
BASE = SAMPLE_DATA / "models" / "finetui-tiny"  # the fixed runs' base model


def placeholder_adapter(run: Run) -> Run:
    """A Ready run's adapter folder as a file listing sees it: what preflight looks at, and what an adapter export
    without its check copies (so the code from before these refusals went through with it and deleted, as it did by hand)."""
    run.adapter_dir.mkdir()
    (run.adapter_dir / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4}))
    _safetensors(run.adapter_dir / "adapter_model.safetensors")
    return run


@pytest.fixture
def run(finetui_home: Path) -> Run:
    """A Ready run for the refusals, which never load its adapter."""
    return placeholder_adapter(write_run(RUN, "ready", steps=60))


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real LoRA adapter on the fixed runs' base model, made once for the module."""
    from tests.tiny_model import make_adapter

    folder = tmp_path_factory.mktemp("adapter") / "adapter"
    make_adapter(BASE, folder, seed=1)
    return folder


@pytest.fixture
def ready(finetui_home: Path, adapter: Path) -> Run:
    """A Ready run with a real adapter: it exports for real."""
    run = write_run(RUN, "ready", steps=60)
    shutil.copytree(adapter, run.adapter_dir)
    return run


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["export", RUN, "--to", "adapter", "--no-check", *args])
    return code, capsys.readouterr().err.strip()


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (links not followed) and its text: what a refusal must leave as it was."""
    return {str(p.relative_to(folder)): (p.read_text(errors="replace") if p.is_file() else "") for p in sorted(folder.rglob("*"))}


def stamp_in(folder: Path) -> None:
    """Make ``folder`` look like an earlier export, so a refusal can't be put down to a missing stamp."""
    (folder / STAMP).write_text(json.dumps({"finetui_export": 1, "run": RUN, "export": "adapter"}))


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working folder, holding a user's throwaway files."""
    folder = tmp_path / "work"
    (folder / "src").mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    (folder / "src" / "a.py").write_text("print('mine')")
    monkeypatch.chdir(folder)
    return folder


# -- what --force never replaces: one line, exit 2, nothing touched ---------------------------------


def test_an_empty_out_is_refused(run: Run, work: Path, capsys) -> None:
    """In a script, ``OUT=; finetui export r --out "$OUT" --force`` wiped the folder it ran in."""
    before = tree(work)
    code, err = cli(capsys, "--out", "", "--force")
    assert (code, err) == (2, "finetui export: error: --out is empty: give a folder, or drop --out for the default ($FINETUI_HOME/exports/RUN-TARGET)")
    assert tree(work) == before


@pytest.mark.parametrize("given", [".", "{work}", "./src/..", "{work}/"])
def test_the_working_folder_is_never_replaced(run: Run, work: Path, capsys, given: str) -> None:
    stamp_in(work)  # even a folder that was an export: it is where the user is
    before = tree(work)
    code, err = cli(capsys, "--out", given.format(work=work), "--force")
    assert (code, err) == (2, f"finetui export: error: {work} is the working folder: an export never replaces it; choose another folder")
    assert tree(work) == before


def test_a_folder_that_holds_the_working_folder_is_never_replaced(run: Run, work: Path, capsys) -> None:
    stamp_in(work.parent)
    before = tree(work.parent)
    code, err = cli(capsys, "--out", "..", "--force")
    assert code == 2
    assert err == (f"finetui export: error: {work.parent} is a folder that holds the working folder ({work}): "
                   "an export never replaces it; choose another folder")
    assert tree(work.parent) == before


INSIDE = "is inside finetui's home folder but not in its exports folder: an export never goes there; choose {home}/exports/NAME or a folder outside {home}"


@pytest.mark.parametrize(("where", "why"), [
    ("", "is finetui's home folder (its runs and exports): an export never replaces it; choose another folder"),
    ("runs", INSIDE),
    ("runs/20260101-1000-other", "is a run folder: an export never replaces a run; choose another folder"),
    ("runs/new", INSIDE),
    ("exports", INSIDE),
], ids=["home", "runs", "another-run", "new-in-runs", "exports"])
def test_finetui_home_and_its_runs_are_never_replaced(run: Run, finetui_home: Path, work: Path, capsys, where: str, why: str) -> None:
    """``--out "$FINETUI_HOME"`` deleted every run; ``--out`` another run's folder, that run."""
    write_run("20260101-1000-other", "ready", name="other", steps=60)
    (finetui_home / "exports").mkdir()
    stamp_in(finetui_home / "exports")
    out = finetui_home / where if where else finetui_home
    before = tree(finetui_home)
    code, err = cli(capsys, "--out", str(out), "--force")
    assert (code, err) == (2, f"finetui export: error: {out} {why.format(home=finetui_home)}")
    assert tree(finetui_home) == before


def test_a_run_folder_anywhere_is_never_replaced(run: Run, work: Path, capsys) -> None:
    copy = work.parent / "kept-run"
    shutil.copytree(run.dir, copy)
    before = tree(copy)
    code, err = cli(capsys, "--out", str(copy), "--force")
    assert (code, err) == (2, f"finetui export: error: {copy} is a run folder: an export never replaces a run; choose another folder")
    assert tree(copy) == before


def test_a_file_is_never_replaced(run: Run, work: Path, capsys) -> None:
    """``--force`` over a file kept it as a hidden ``.NAME.replaced-PID`` (and the folder took its name)."""
    before = tree(work)
    code, err = cli(capsys, "--out", "notes.txt", "--force")
    assert code == 2
    assert err == (f"finetui export: error: {work / 'notes.txt'} is a file, not an export folder: an export never replaces it; "
                   "remove it yourself or choose another folder")
    assert tree(work) == before


@pytest.mark.parametrize("force", [["--force"], []])
def test_a_folder_export_did_not_write_is_never_replaced(run: Run, work: Path, capsys, force: list[str]) -> None:
    """With or without ``--force``: a user is never told to pass ``--force`` only to be refused again."""
    before = tree(work)
    code, err = cli(capsys, "--out", "src", *force)
    assert code == 2
    assert err == (f"finetui export: error: {work / 'src'} was not written by finetui export (it has no {STAMP}): an export never "
                   "replaces it; remove it yourself or choose another folder")
    assert tree(work) == before


# -- what --force replaces: an earlier export, a link (not its target) ------------------------------


@pytest.mark.slow
def test_force_replaces_an_earlier_export_in_the_default_place(ready: Run, finetui_home: Path, work: Path, capsys) -> None:
    out = finetui_home / "exports" / f"{RUN}-adapter"
    assert cli(capsys)[0] == 0
    stamp = json.loads((out / STAMP).read_text())
    assert stamp["finetui_export"] == 1 and stamp["run"] == RUN and stamp["export"] == "adapter"
    (out / "earlier.txt").write_text("from the first export")
    code, err = cli(capsys)
    assert (code, err) == (2, f"finetui export: error: {out} exists; pass --force to replace it, or --out another folder")
    code, _ = cli(capsys, "--force")
    assert code == 0 and (out / "adapter_config.json").is_file() and not (out / "earlier.txt").exists()
    assert hidden(out.parent) == []


@pytest.mark.slow
def test_a_link_is_replaced_not_the_folder_it_points_to(ready: Run, work: Path, capsys) -> None:
    """``--out LINK --force`` followed the link and emptied its target."""
    target = work.parent / "target"
    target.mkdir()
    (target / "precious.txt").write_text("mine")
    stamp_in(target)  # even a target that was an export is not what the user named
    before = tree(target)
    (work / "link").symlink_to(target)
    code, err = cli(capsys, "--out", "link")
    assert (code, err) == (2, f"finetui export: error: {work / 'link'} exists (a link: replacing it replaces the link, not what it points to); "
                              "pass --force to replace it, or --out another folder")
    code, _ = cli(capsys, "--out", "link", "--force")
    assert code == 0
    assert not (work / "link").is_symlink() and (work / "link" / "adapter_config.json").is_file()
    assert tree(target) == before
    assert hidden(work) == []


# -- hidden copies: killed exports, a failed move, modes ---------------------------------------------


@pytest.mark.slow
def test_hidden_folders_of_dead_exports_are_removed_and_nothing_else(ready: Run, work: Path, capsys) -> None:
    dead, alive = dead_pid(), os.getpid()
    left = {f".ad.partial-{dead}": True, f".old.replaced-{dead}": True, f".busy.partial-{alive}": True, f".mine.partial-{dead}": False}
    for name, ours in left.items():
        (work / name).mkdir()
        (work / name / "model.safetensors").write_bytes(b"\0" * 1024)
        if ours:
            stamp_in(work / name)
    code, _ = cli(capsys, "--out", "ad")
    assert code == 0 and (work / "ad" / "adapter_config.json").is_file()
    assert hidden(work) == [f".busy.partial-{alive}", f".mine.partial-{dead}"]  # a live export's, and one finetui did not write


@pytest.mark.slow
def test_a_killed_export_leaves_a_stamped_folder_that_the_next_export_removes(ready: Run, work: Path, capsys) -> None:
    """``kill -9`` during an export left ``.NAME.partial-PID`` (the merged weights) for good."""
    options = json.dumps({"target": "hf", "check": True, "out": str(work / "hf")})  # the weights sit in the hidden folder while it is checked
    process = subprocess.Popen([sys.executable, "-m", "engine.export", RUN, "--options", options], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    partial = work / f".hf.partial-{process.pid}"
    try:
        deadline = time.monotonic() + 300  # a bound on a hung export, not a timing
        while not (partial / "model.safetensors").is_file():
            assert process.poll() is None and time.monotonic() < deadline, "the export ended (or hung) before it wrote its weights"
            time.sleep(0.02)
    finally:
        process.kill()
        process.wait()
    assert json.loads((partial / STAMP).read_text())["run"] == RUN
    code, _ = cli(capsys, "--out", "ad")
    assert code == 0 and hidden(work) == []


@pytest.mark.slow
@pytest.mark.parametrize(("earlier", "failing", "said"), [
    (True, "into", "the old export is back in place and the new one was removed"),
    (True, "aside", None),
    (False, "into", "it was removed; try again or choose another folder"),
])
def test_a_failed_move_leaves_nothing_hidden(ready: Run, work: Path, monkeypatch, earlier: bool, failing: str, said: str | None) -> None:
    """A failed final rename left the finished export hidden in ``.NAME.partial-PID`` (and the old one in ``.NAME.replaced-PID``)."""
    out = work / "ad"
    if earlier:
        export_run(ready, ExportOptions(target="adapter", out=out, check=False))
        (out / "README.md").write_text("the earlier export")
    before = tree(out) if earlier else None
    rename = os.rename

    def failing_rename(src, dst, *args, **kwargs):
        moving_in = Path(dst) == out and ".partial-" in Path(src).name
        moving_aside = Path(src) == out and ".replaced-" in Path(dst).name
        if (moving_in and failing == "into") or (moving_aside and failing == "aside"):
            raise OSError(errno.EXDEV, "Invalid cross-device link", str(src))
        return rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(ExportError) as raised:
        export_run(ready, ExportOptions(target="adapter", out=out, check=False, force=True))
    assert "\n" not in str(raised.value)
    if failing == "aside":
        assert str(raised.value) == f"could not move {out} aside to replace it (Invalid cross-device link): it is as it was, and the new export was removed"
    else:
        assert str(raised.value) == f"could not move the finished export into {out} (Invalid cross-device link): {said}"
    assert hidden(work) == []
    assert (tree(out) if earlier else out.exists()) == (before if earlier else False)


@pytest.mark.slow
def test_exported_files_get_the_umask_s_mode(ready: Run, work: Path, capsys) -> None:
    """safetensors writes 0600; an export is for sharing, so its files get what any new file gets here."""
    previous = os.umask(0o002)
    try:
        code, _ = cli(capsys, "--to", "hf", "--out", "hf")
    finally:
        os.umask(previous)
    assert code == 0
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in (work / "hf").iterdir()}
    assert modes["model.safetensors"] == "0o664" and set(modes.values()) == {"0o664"}


# -- a missing tool is refused before any work ---------------------------------------------------------


def test_a_quantized_gguf_without_the_quantizer_is_refused_by_preflight(run: Run, work: Path, monkeypatch) -> None:
    """q4_k_m without llama-cpp-python was refused only after the merge and the conversion (~47 s on a real model)."""
    monkeypatch.setattr("engine.export.gguf.llama_cpp_available", lambda: False)  # as where the export extra is not installed
    assert preflight(run, ExportOptions(target="gguf", gguf_type="q8_0", out=work / "g"))  # llama.cpp's converter makes q8_0 itself
    with pytest.raises(ExportError) as raised:
        preflight(run, ExportOptions(target="gguf", gguf_type="q4_k_m", out=work / "g"))
    assert raised.value.code == "unsupported"
    assert str(raised.value) == ("GGUF type q4_k_m needs llama.cpp's quantizer from llama-cpp-python (pip install 'finetui[export]'); "
                                 "f32, f16, bf16, q8_0 work without it")


# -- the export dialog shows the same refusals ----------------------------------------------------


@pytest.mark.slow
async def test_the_export_dialog_shows_a_refusal_as_its_one_line_error(tui_env: Path) -> None:
    from textual.widgets import Checkbox, Input, Select, Static

    from tests.fixed_runs import SIZE, events_in, run_page
    from tests.pilot_helpers import until
    from tui.app import FinetuiApp
    from tui.screens.export import ExportScreen

    run = placeholder_adapter(write_run(RUN, "ready", steps=60))
    before = tree(tui_env)
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        await run_page(pilot, run.id, events_in(run))
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ExportScreen))
        screen = app.screen
        screen.query_one("#export-target", Select).value = "adapter"  # quick: the code from before this went through and deleted the runs
        screen.query_one("#export-check", Checkbox).value = False
        screen.query_one("#export-out", Input).value = str(tui_env)
        screen.query_one("#export-force", Checkbox).value = True
        await pilot.press("ctrl+s")
        status = screen.query_one("#export-status", Static)
        await until(pilot, lambda: str(status.content).startswith(("Exported to", "Failed")), timeout=120)
        assert str(status.content) == f"Failed: {tui_env} is finetui's home folder (its runs and exports): an export never replaces it; choose another folder"
    assert tree(tui_env) == before


def test_a_base_model_that_gained_code_of_its_own_is_refused_before_any_work(capsys: pytest.CaptureFixture[str], run: Run, tmp_path: Path) -> None:
    """The run's base folder later got an ``auto_map`` (code to run): export says so in one line, as train does, instead of
    failing while loading it ("unexpected error … (a bug in finetui)")."""
    base = tmp_path / "base"
    shutil.copytree(BASE, base)
    config = json.loads(run.config_path.read_text())
    config["model"]["name"] = str(base)
    run.config_path.write_text(json.dumps(config))
    model_config = json.loads((base / "config.json").read_text())
    (base / "config.json").write_text(json.dumps({**model_config, "auto_map": {"AutoModelForCausalLM": "modeling_x.XForCausalLM"}}))
    code = main(["export", RUN, "--to", "hf", "--no-check"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "unexpected" not in err and "ships its own code" in err and len(err.splitlines()) == 1, err
    assert not (run.dir.parent.parent / "exports").exists()
