"""Bad launches are refused up front: one line, exit 2, no run folder, no process; and the leftover crashes are one line too.

Each test here was seen failing on the code before its fix (the report that
came with it quotes the line). ``launch`` is replaced where the old code
would have started a training process, so a failing run of these tests
starts nothing either.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import Button, Input, Select, Static

from engine.config import setting
from engine.infer.requests import RequestError, parse_request
from engine.models import ModelError
from engine.models.resolve import BUNDLED_DIR
from engine.runs import RunStore
from tests.fixed_runs import write_run
from tui.app import FinetuiApp
from tui.cli import main
from tui.screens.train import TrainScreen, field_id

REPO = Path(__file__).resolve().parent.parent
HAIKU = REPO / "sample_data" / "haiku.txt"
TINY = BUNDLED_DIR / "finetui-tiny"


@pytest.fixture(autouse=True)
def nothing_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A launch that gets past the checks starts no process: the old code would have (1,000 of them for --devices 1000)."""

    def launch(*args: object, **kwargs: object) -> None:
        raise AssertionError("a training process was started")

    monkeypatch.setattr("engine.runs.lifecycle.launch", launch)


def refused(capsys: pytest.CaptureFixture[str], argv: list[str], command: str) -> str:
    """Run ``finetui argv`` in this process; it must exit 2 with one error line and leave no run folder. Returns the line."""
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith(f"finetui {command}: error: "), err
    assert "Traceback" not in err and "unexpected error" not in err
    root = RunStore().root
    assert not root.is_dir() or not any(root.iterdir()), "a run folder was created"
    return lines[0]


def model_copy(tmp_path: Path, config: dict | None = None, template: str | None = None) -> Path:
    """The bundled model copied, with ``config`` merged into its config.json and ``template`` as its chat template."""
    folder = tmp_path / "model"
    shutil.copytree(TINY, folder)
    if config:
        path = folder / "config.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **config}))
    if template is not None:
        path = folder / "tokenizer_config.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "chat_template": template}))
    return folder


# --- 4: --devices on a CPU ---------------------------------------------------------------------------


def test_more_cpu_processes_than_cores_are_refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Without CUDA each device is a process with its own model: --devices is bounded by the cores, at launch."""
    monkeypatch.setattr("engine.runs.lifecycle.cuda_device_count", lambda: 0, raising=False)
    monkeypatch.setattr("engine.runs.lifecycle.cpu_cores", lambda: 2, raising=False)
    line = refused(capsys, ["train", str(HAIKU), "--devices", "3", "--detach"], "train")
    assert "--devices must be at most 2 here" in line and "not '3'" in line


def test_resuming_on_more_cpu_processes_than_cores_is_refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("engine.runs.lifecycle.cuda_device_count", lambda: 0, raising=False)
    monkeypatch.setattr("engine.runs.lifecycle.cpu_cores", lambda: 2, raising=False)
    run = write_run("20260101-000000-cpu", "failed")
    before = run.config_path.read_text()
    assert main(["resume", run.id, "--devices", "3"]) == 2
    assert "--devices must be at most 2 here" in capsys.readouterr().err
    assert run.config_path.read_text() == before and run.status().state == "failed"


def test_the_device_bound_counts_cuda_devices_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.gpu import cuda_device_count

    for visible, count in (("", 0), ("0,1", 2), ("-1", 0), ("0,-1,1", 1), ("GPU-3f2a", 1)):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
        assert cuda_device_count() == count, visible


# --- 5: a config.json that transformers refuses ------------------------------------------------------


@pytest.mark.slow  # the model check loads transformers in a child process: ~5-10 s
def test_a_config_field_of_the_wrong_type_is_refused_by_train_and_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = model_copy(tmp_path, {"max_position_embeddings": "abc"})
    line = refused(capsys, ["train", str(HAIKU), "-m", str(folder), "--detach"], "train")
    assert f"{folder / 'config.json'}: " in line and "'max_position_embeddings'" in line
    line = refused(capsys, ["plan", "-m", str(folder)], "plan")
    assert f"{folder / 'config.json'}: " in line and "'max_position_embeddings'" in line


@pytest.mark.slow
async def test_the_train_screen_disables_launch_for_a_config_transformers_refuses(tmp_path: Path, tui_env: Path) -> None:
    from tests.pilot_helpers import until
    from tests.test_tui_train import SIZE, open_train

    folder = model_copy(tmp_path, {"max_position_embeddings": "abc"})
    async with FinetuiApp(start_path=Path("sample_data/haiku.txt")).run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        assert isinstance(screen, TrainScreen)
        screen.query_one("#model", Input).value = str(folder)
        status = screen.query_one("#train-status", Static)
        await until(pilot, lambda: "max_position_embeddings" in str(status.render()), timeout=90)
        assert screen.query_one("#launch", Button).disabled
        assert screen.query_one("#model", Input).has_class("-invalid")


# --- 6: chat templates that fail -----------------------------------------------------------------------


def test_the_model_check_is_kept_until_the_files_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check takes seconds (a child imports transformers and torch): its verdict is kept while the folder's files stay the same."""
    from engine.models import probe
    from engine.models.resolve import ResolvedModel

    folder = model_copy(tmp_path)
    asked: list[Path] = []

    def child(where: Path, trust: bool, timeout: float) -> tuple[str | None, bool]:
        asked.append(where)
        return f"{where / 'config.json'}: bad", True

    monkeypatch.setattr(probe, "_run_child", child)
    resolved = ResolvedModel("model", folder, "local")
    for _ in range(2):
        with pytest.raises(ModelError, match="config.json: bad"):
            probe.probe_model(resolved)
    assert len(asked) == 1
    (folder / "config.json").write_text((folder / "config.json").read_text() + " ")
    with pytest.raises(ModelError):
        probe.probe_model(resolved)
    assert len(asked) == 2
    probe.probe_model(ResolvedModel("finetui-tiny", TINY, "bundled"))  # shipped and tested: not probed
    assert len(asked) == 2


@pytest.mark.slow
def test_a_chat_template_that_raises_is_refused_before_a_run_exists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = model_copy(tmp_path, template="{{ raise_exception('no system role') }}")
    line = refused(capsys, ["train", str(HAIKU), "-m", str(folder), "--detach"], "train")
    assert line.endswith(f"the chat template in {folder / 'tokenizer_config.json'} fails on a two-message chat: TemplateError: no system role")


@pytest.mark.slow  # imports transformers in this process
@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("{{ ''.__class__.__mro__ }}", "SecurityError: access to attribute '__class__'"),
        ("{% for i in range(10**9) %}x{% endfor %}", "OverflowError: Range too big"),
        ("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}", "did not finish rendering a two-message chat in 1 s"),
        ("{{ 'x' * 3000000000 }}", "takes over 1 GiB to render"),
    ],
    ids=["sandbox", "huge-range", "nested-loops", "huge-string"],
)
def test_the_model_check_bounds_a_chat_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, template: str, says: str) -> None:
    """The sandbox blocks what it can; the check's own alarm and memory cap bound what it can't (jinja2 has no timeout)."""
    from engine.models import probe

    monkeypatch.setattr(probe, "RENDER_S", 1)
    folder = model_copy(tmp_path, template=template)
    with pytest.raises(ModelError, match="^the chat template in .*tokenizer_config.json") as caught:
        probe.check_folder(folder, trust_remote_code=False)
    assert says in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.slow
def test_inspect_show_tokens_says_a_failing_template_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = model_copy(tmp_path, template="{{ raise_exception('no system role') }}")
    chat = tmp_path / "chat.jsonl"
    chat.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"hi {i}"}, {"role": "assistant", "content": "hello"}]}) + "\n"
                            for i in range(20)))
    assert main(["inspect", str(chat), "--show-tokens", "-m", str(folder), "--show", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"finetui: error: {chat}: the chat template of {folder} fails: TemplateError: no system role"


# --- 7: extreme numbers ----------------------------------------------------------------------------------


def test_plan_bounds_the_gpu_memory(capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(capsys, ["plan", "--gpu-memory", "1e308"], "plan")
    assert line == "finetui plan: error: --gpu-memory must be at most 65,536 GiB (no card comes near it), not '1e308'"


def test_a_temperature_below_the_floor_decodes_greedily() -> None:
    """Logits over 1e-300 are inf and sampling from them fails: below 1e-4 is greedy, as 0 is."""
    assert parse_request({"type": "generate", "prompt": "hi", "temperature": 1e-300}).greedy  # type: ignore[union-attr]
    assert not parse_request({"type": "generate", "prompt": "hi", "temperature": 0.01}).greedy  # type: ignore[union-attr]


# --- 8: a tracker that is not installed ------------------------------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is not None or importlib.util.find_spec("tensorboardX") is not None,
                    reason="tensorboard is installed here")
def test_report_to_a_tracker_that_is_not_installed_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(capsys, ["train", str(HAIKU), "--report-to", "tensorboard", "--detach"], "train")
    assert line == "finetui train: error: reporting to tensorboard needs tensorboard, which is not installed: pip install tensorboard"


@pytest.mark.slow
async def test_the_train_screen_disables_launch_for_what_this_machine_cannot_do(tui_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.pilot_helpers import until
    from tests.test_tui_train import SIZE, open_train

    monkeypatch.setattr("engine.runs.lifecycle.cuda_device_count", lambda: 0, raising=False)
    monkeypatch.setattr("engine.runs.lifecycle.cpu_cores", lambda: 2, raising=False)
    monkeypatch.setattr("engine.runs.lifecycle._importable", lambda module: False, raising=False)
    async with FinetuiApp(start_path=Path("sample_data/haiku.txt")).run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        assert isinstance(screen, TrainScreen)
        launch = screen.query_one("#launch", Button)
        await until(pilot, lambda: not launch.disabled)
        devices = screen.query_one(f"#{field_id(setting('train.devices'))}", Input)  # type: ignore[arg-type]
        devices.value = "3"
        await until(pilot, lambda: launch.disabled and devices.has_class("-invalid"))
        devices.value = "1"
        await until(pilot, lambda: not launch.disabled)
        screen.query_one(f"#{field_id(setting('train.report_to'))}", Select).value = "wandb"  # type: ignore[arg-type]
        await until(pilot, lambda: launch.disabled and "pip install wandb" in str(screen.query_one("#train-status", Static).render()))


# --- 9: leftover crashes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "raw"), [
    ("text", {"type": "likelihood", "text": "\udced\udca0\udc80abc"}),
    ("messages", {"type": "generate", "messages": [{"role": "user", "content": "fine \udc80"}]}),
])
def test_a_lone_surrogate_is_refused_as_one_line(field: str, raw: dict) -> None:
    """Bytes that are not UTF-8 in a shell argument become lone surrogates, which no tokenizer takes."""
    with pytest.raises(RequestError, match="is not valid text: character .* is a lone surrogate") as caught:
        parse_request(raw)
    assert caught.value.field == field


def test_finetui_home_that_is_a_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    monkeypatch.setenv("FINETUI_HOME", str(home))
    line = refused(capsys, ["train", str(HAIKU), "--detach"], "train")
    assert line == f"finetui train: error: {home} is a file, not a folder: finetui keeps its runs in {home / 'runs'}; set FINETUI_HOME to a folder"


def test_a_hub_cache_that_is_a_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache"
    cache.write_text("not a folder")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    line = refused(capsys, ["models"], "models")
    assert line == f"finetui models: error: the Hugging Face cache {cache} is a file, not a folder: point HF_HUB_CACHE (or HF_HOME) at a folder"


# --- 12: minor ------------------------------------------------------------------------------------------------


@pytest.mark.slow  # imports bitsandbytes (and torch) in a fresh interpreter
def test_bitsandbytes_import_prints_no_kernel_trust_line() -> None:
    """bitsandbytes' CPU backend asks the kernels package for a kernel; offline it said "Skipping publisher trust check" every time."""
    code = "from engine.models.load import check_bitsandbytes; check_bitsandbytes('4bit', 'cpu')"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert "publisher trust check" not in done.stderr, done.stderr


def test_rm_of_a_linked_run_removes_the_link_and_leaves_its_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = write_run("20260101-000000-linked", "failed")
    elsewhere = tmp_path / "elsewhere"
    shutil.move(run.dir, elsewhere)
    run.dir.symlink_to(elsewhere)
    assert main(["rm", run.id]) == 0, capsys.readouterr().err
    assert list(run.dir.parent.iterdir()) == [] and (elsewhere / "config.json").is_file()

