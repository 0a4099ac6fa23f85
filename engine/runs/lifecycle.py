"""Start, resume and remove runs: the engine API the CLI and the TUI share.

Each action checks everything it can before it changes anything, so a run
is never created for a model that can't load or data with no eval split,
and a refused action leaves the run folder as it was.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from engine.config import TRACKER_PACKAGES, ConfigError, RunConfig
from engine.data import DataSpec, Report, scan
from engine.errors import FinetuiError, Hint
from engine.files import write_json_atomic
from engine.gpu import cpu_cores, cuda_device_count, importable
from engine.runs.events import StatusEvent
from engine.runs.process import is_alive, launch, refresh, status_lock
from engine.runs.status import ACTIVE, BROKEN, RESUMABLE
from engine.runs.store import BrokenRun, Run, RunStore, RunStoreError


class RunStateError(Exception):
    """The action doesn't fit the run's state (resume a ready run, remove a training one)."""


class NoEvalSplit(FinetuiError, ValueError):
    """The data leaves no example for the eval split, so the run could not be scored; the hint is the eval share."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{message}: add examples, or hold out a larger share of them", "no_eval_split", Hint("data.eval_fraction"))


def validate_data(config: RunConfig) -> Report:
    """The same report as ``inspect``; raises ``DataError`` so no run starts on bad data.

    ``NoEvalSplit`` when no example is held out: the scorecard would have
    nothing to compare the models on.
    """
    spec = DataSpec(Path(config.data.path), format=config.data.format, separator=config.data.separator, mapping=config.data.mapping)
    report = scan(
        spec,
        max_seq_len=config.train.seq_len,
        eval_fraction=config.data.eval_fraction,
        seed=config.train.seed,
    )
    if report.examples and report.eval == 0:
        raise NoEvalSplit(
            f"{config.data.path}: {report.examples} example{'s leave' if report.examples != 1 else ' leaves'} none for the "
            "eval split, so the run could not be scored"
        )
    return report


def check_devices(config: RunConfig) -> None:
    """``ConfigError`` on ``train.devices`` when, without a CUDA GPU, it asks for more processes than this machine has cores.

    On the CPU each device is a process holding torch and its own copy of
    the model, so more processes than cores only share the cores and
    multiply the memory (``--devices 1000`` started a thousand). The config alone can't
    know this (a run's config is read on other machines too): it is checked
    when a run starts or resumes here.
    """
    devices = config.train.devices
    if devices == "all" or cuda_device_count():
        return
    cores = cpu_cores()
    if int(devices) > cores:
        need = f"at most {cores} here (no CUDA GPU: each device is a CPU process with its own copy of the model, one per core)"
        raise ConfigError("train.devices", f"train.devices must be {need}, not {devices!r}", "out_of_range", need, devices)


def check_trackers(config: RunConfig) -> None:
    """``ConfigError`` on ``train.report_to`` when the tracker's package is not installed: transformers would fail the run at its start."""
    missing = [pip for modules, pip in TRACKER_PACKAGES.get(config.train.report_to, ()) if not any(importable(m) for m in modules)]
    if missing:
        raise ConfigError(
            "train.report_to",
            f"reporting to {config.train.report_to} needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed: "
            f"pip install {' '.join(missing)}",
            "not_installed",
        )


def check_settings(config: RunConfig) -> None:
    """The checks of a config that depend on this machine (its cores, its packages): cheap enough for every change of the TUI's form."""
    check_devices(config)
    check_trackers(config)


def validate_model(config: RunConfig) -> None:
    """``ModelError`` when the model can't be used: the same check for the CLI and the TUI.

    The files are checked first (cheap, no transformers); then, in a child
    process, the config and tokenizer load as transformers loads them and
    the chat template renders a sample (``engine.models.probe``).
    """
    from engine.models.check import check_model
    from engine.models.probe import probe_model

    resolved = check_model(config.model.name, config.model.trust_remote_code)
    if resolved is not None:
        probe_model(resolved, config.model.trust_remote_code)


def start_run(config: RunConfig, store: RunStore | None = None) -> Run:
    """Check the model, create the run folder with the resolved config, and start its detached process.

    Raises ``ConfigError`` (``check_settings``) or ``ModelError`` before
    anything is written when the run can't start here or the model can't
    load, and ``RunStoreError`` when the runs folder can't be written.
    """
    check_settings(config)
    validate_model(config)
    store = store or RunStore()
    data = replace(config.data, path=str(Path(config.data.path).expanduser().resolve()))
    run = store.create(replace(config, data=data))
    try:
        launch(run)
    except OSError as exc:
        raise RunStoreError(f"run {run.id} was created but its process could not start: {exc.strerror or exc}") from None
    return run


#: How long ``resume`` gives the last process of a cancelled or failed run to end.
ENDING_WAIT_S = 15.0


def _wait_for_last_process(run: Run, timeout: float) -> None:
    """Give a cancelled or failed run's process up to ``timeout`` s to let go of its worker lock, so resume needs no retry.

    A worker writes its final status, then leaves its train lock and its
    worker lock: a resume that saw the status in between (a moment, longer
    on a busy machine) would otherwise be refused as "still ending".
    """
    deadline = time.monotonic() + timeout
    while refresh(run).state in RESUMABLE and is_alive(run) and time.monotonic() < deadline:
        time.sleep(0.1)


def resume_run(run: Run, devices: str | None = None) -> Run:
    """Start a failed or cancelled run again, from its last checkpoint if it has one.

    Check and start happen under the run's status lock, so of several
    ``resume`` at once one starts a worker and the others are refused.
    ``devices`` (``train.devices``: a number or ``all``) continues it on
    another number of processes; ``config.json`` records the new one.
    A last process still ending gets ``ENDING_WAIT_S`` to end first.
    """
    try:
        _wait_for_last_process(run, ENDING_WAIT_S)
        with status_lock(run):
            status = refresh(run)
            if status.state == BROKEN:
                raise RunStateError(f"run {run.id} is broken ({status.reason}); it can't be resumed, only removed")
            if status.state not in RESUMABLE:
                hint = "train it again instead" if status.state == "ready" else "it is still going"
                raise RunStateError(f"run {run.id} is {status.state}; only failed or cancelled runs can be resumed ({hint})")
            if is_alive(run):
                raise RunStateError(f"run {run.id}'s last process has not ended after {ENDING_WAIT_S:.0f} s; try again in a moment")
            if devices is not None:
                _set_devices(run, devices)
            run.write_status(status.moved("queued", reason=None, pid=None))
            checkpoint = run.last_checkpoint()
            run.append(StatusEvent(state="queued", resumed_from=checkpoint.name if checkpoint else None, resumed=True))
            launch(run, resume=True)
    except FileNotFoundError:
        raise RunStateError(f"run {run.id} no longer exists") from None
    except OSError as exc:
        raise RunStoreError(f"cannot resume run {run.id}: {exc.strerror or exc}") from None
    return run


#: How long another node of a multi-node run waits for node 0 to create the run it joins.
JOIN_WAIT_S = 120.0


def join_run(name: str, node_rank: int, store: RunStore | None = None, wait_s: float = JOIN_WAIT_S) -> Run:
    """Start this machine's part (node ``node_rank`` > 0) of the multi-node run named ``name`` that node 0 started.

    The run folder must be on storage every node sees: the newest queued or
    training run of that name is looked for, for up to ``wait_s`` (node 0 may
    start a moment later). ``RunStateError`` says where it looked.
    """
    store = store or RunStore()
    deadline = time.monotonic() + wait_s
    while True:
        for run in reversed(store.list()):
            try:
                config = run.config()
            except (BrokenRun, FileNotFoundError):
                continue
            if config.name == name and config.train.nodes > node_rank and refresh(run).state in ACTIVE:
                launch(run, resume=True, node_rank=node_rank)  # resume: every rank starts from the run's last checkpoint, if any
                return run
        if time.monotonic() > deadline:
            raise RunStateError(
                f"no queued or training multi-node run named {name!r} under {store.root} after {wait_s:.0f} s: start node 0 first, "
                "with FINETUI_HOME on storage every node sees"
            )
        time.sleep(1.0)


def _set_devices(run: Run, devices: str) -> None:
    """Rewrite the run's ``train.devices``, checked first (``ConfigError`` names ``train.devices``)."""
    config = run.config()
    if config.train.devices == devices:
        return
    changed = replace(config, train=replace(config.train, devices=devices))
    check_devices(changed)
    write_json_atomic(run.config_path, changed.to_dict())
    run.log(f"resuming on {devices} devices instead of {config.train.devices}")


def remove_run(run: Run, store: RunStore | None = None) -> None:
    """Delete a run folder; a queued or training run must be cancelled first.

    The state check and the move out of the list happen under the run's
    status lock, so a ``resume`` can't start a worker in a folder being removed.
    """
    store = store or RunStore(run.dir.parent)
    try:
        with status_lock(run):
            status = refresh(run)
            if status.state in ACTIVE or is_alive(run):
                raise RunStateError(f"run {run.id} is {status.state}; cancel it first (`finetui cancel {run.id}`)")
            store.remove(run)
    except FileNotFoundError:
        raise RunStateError(f"run {run.id} no longer exists") from None
    except RunStoreError:
        raise
    except OSError as exc:
        raise RunStoreError(f"cannot remove run {run.id}: {exc.strerror or exc}; nothing was deleted") from None
