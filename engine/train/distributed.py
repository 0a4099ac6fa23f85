"""One run on several devices or machines: torchrun's elastic launcher under the run's worker.

The run's worker (``engine.train.worker``, detached, the leader of its own
process group) keeps what makes a run a run: the queue, the worker lock and
``status.json``. For more than one process it then calls
``torch.distributed.launcher.elastic_launch`` (what ``torchrun`` and
``accelerate launch`` run), which starts ``python -m engine.train.distributed``
once per device in the same process group:

- every rank trains (``engine.train.finetune``), the Trainer and accelerate
  doing DDP or FSDP; rank 0 alone writes events, checkpoints, the adapter and
  the scorecard (``Run`` itself refuses writes on other ranks);
- each rank ends by writing ``ranks/rank-R.json``: ``ready``, ``cancelled``,
  or ``failed`` with its reason; a rank killed outright writes nothing, and the
  launcher reports its signal. The worker turns these into one status naming
  the rank that failed first (``rank_failure``);
- cancel (SIGTERM to the worker) makes the launcher pass SIGTERM to every rank
  and wait ``SAVE_GRACE_S`` for them: they agree on the step to stop at
  (``engine.train.ranks.agreed_stop``), save a checkpoint there and end;
- a rank whose worker dies (kill -9) is killed by the kernel
  (``PR_SET_PDEATHSIG``): no rank outlives its run's worker.

Several machines: every node runs its own worker and launcher
(``--nodes``, ``--node-rank``, ``--main-address``, ``--main-port``, a static
rendezvous as torchrun's). The run folder must be on storage every node sees
(each rank reads the config and data there, writes its checkpoint RNG state
and its rank file); rank 0 writes a token there that every rank must read back
(``check_shared_folder``), so a node that sees another folder fails at once.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import RunConfig
from engine.files import write_json_atomic
from engine.runs import Run
from engine.runs.store import DISTRIBUTED_ENV
from engine.train.failure import RankFailed, failure_reason
from engine.train.ranks import STRATEGY_ENV, choose, is_main, rank, world_size

#: How long the launcher waits for ranks told to stop to save a checkpoint and end, before it kills them.
SAVE_GRACE_S = 600
#: How long a node waits for the others to meet (a node started late, a slow machine).
RENDEZVOUS_TIMEOUT_S = 900
#: The folder in a run that holds one file per rank and the launcher's own logs.
RANKS = "ranks"
#: Text of a failure that only follows another rank's: the peer went away mid-collective.
_PEER_WORDS = ("connection closed", "connection reset", "broken pipe", "peer", "timed out", "timeout", "nccl", "gloo")


@dataclass(frozen=True)
class Layout:
    """Where a run's processes go: ``devices`` per node on ``nodes`` machines, this machine being ``node_rank``."""

    devices: int
    nodes: int = 1
    node_rank: int = 0
    main_address: str = "localhost"
    main_port: int = 29500

    @property
    def processes(self) -> int:
        return self.devices * self.nodes


def device_count(value: str) -> int:
    """``train.devices`` as a number: ``all`` is every CUDA device, or 1 (the CPU) without one."""
    if value != "all":
        return int(value)
    import torch

    return max(1, torch.cuda.device_count())


def layout(config: RunConfig, node_rank: int = 0) -> Layout:
    """The run's layout on this machine, from its config."""
    t = config.train
    return Layout(device_count(t.devices), t.nodes, node_rank, t.main_address or "localhost", t.main_port)


def global_batch(config: RunConfig, processes: int) -> int:
    """Sequences per optimizer step over all processes: what a 1-process run needs as its batch to compare."""
    return config.train.batch_size * config.train.grad_accum * processes


# --- in every rank's process (what it asks while training is in engine.train.ranks) -----------------


def check_shared_folder(run: Run) -> None:
    """Fail on any rank whose run folder is not rank 0's: rank 0 writes a token there that every rank must read back."""
    import torch.distributed as dist

    token_path = run.dir / RANKS / "token"
    token = [secrets.token_hex(8) if is_main() else None]
    if is_main():
        token_path.write_text(token[0] or "")
    dist.broadcast_object_list(token, src=0)
    try:
        seen = token_path.read_text()
    except OSError:
        seen = None
    ok = [seen == token[0]]
    every = [None] * world_size()
    dist.all_gather_object(every, ok[0])
    blind = [r for r, fine in enumerate(every) if not fine]
    if blind:
        host = os.uname().nodename
        raise RankFailed(
            f"rank {blind[0]} can't see the run folder {run.dir} that rank 0 writes (checked from {host}): "
            "put FINETUI_HOME on storage every node sees"
        )


def _die_with_parent() -> None:
    """Ask the kernel to kill this process when its parent (the launcher in the worker) dies, however it dies."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the launcher's own shutdown still stops the ranks


def rank_file(run: Run, index: int) -> Path:
    return run.dir / RANKS / f"rank-{index}.json"


def _record(run: Run, state: str, reason: str | None = None) -> None:
    write_json_atomic(rank_file(run, rank()), {"rank": rank(), "node": os.uname().nodename, "state": state, "reason": reason, "time": time.time()})


def rank_main(argv: list[str] | None = None) -> int:
    """One rank: ``python -m engine.train.distributed RUN_DIR [--resume]``, started by the launcher."""
    _die_with_parent()
    args = list(sys.argv[1:] if argv is None else argv)
    run = Run(Path(args[0]))
    resume = "--resume" in args
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    try:
        from accelerate import PartialState

        PartialState(cpu=not torch.cuda.is_available())  # joins the process group (gloo on a CPU, nccl on GPUs)
        check_shared_folder(run)
        from engine.train.finetune import fine_tune

        final = fine_tune(run, stop, resume=resume)
    except BaseException as exc:
        traceback.print_exc()
        _record(run, "failed", failure_reason(exc))
        return 1
    _record(run, final)
    return 0


# --- in the run's worker ---------------------------------------------------------------------


def supervise(run: Run, stop: threading.Event, resume: bool, where: Layout) -> str:
    """Launch the ranks on this node and wait for them; ``ready`` or ``cancelled``, or ``RankFailed`` naming the rank.

    SIGTERM during the launch reaches the ranks through the launcher, which
    waits for them to save and end (``SAVE_GRACE_S``).
    """
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    ranks = run.dir / RANKS
    ranks.mkdir(exist_ok=True)
    first = where.node_rank * where.devices
    for index in range(first, first + where.devices):
        rank_file(run, index).unlink(missing_ok=True)
    if stop.is_set():
        return "cancelled"
    os.environ[DISTRIBUTED_ENV] = "1"
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // where.devices))
    alone = where.nodes == 1
    config = LaunchConfig(
        min_nodes=where.nodes,
        max_nodes=where.nodes,
        nproc_per_node=where.devices,
        run_id=run.id,
        role="finetui",
        rdzv_backend="c10d" if alone else "static",
        rdzv_endpoint="localhost:0" if alone else f"{where.main_address}:{where.main_port}",
        rdzv_configs={"timeout": RENDEZVOUS_TIMEOUT_S, **({} if alone else {"rank": where.node_rank})},
        max_restarts=0,
        monitor_interval=0.2,
        start_method="spawn",
        logs_specs=DefaultLogsSpecs(log_dir=str(ranks / "launcher")),
        shutdown_timeout=SAVE_GRACE_S,
    )
    if not alone:
        os.environ.setdefault("MASTER_ADDR", where.main_address)
    arguments = ["-m", "engine.train.distributed", str(run.dir), *(["--resume"] if resume else [])]
    try:
        elastic_launch(config, sys.executable)(*arguments)
    except SignalException:
        stop.set()
        return "cancelled" if where.node_rank else _cancel_outcome(run)
    except ChildFailedError as exc:
        raise RankFailed(rank_failure(run, where, {r: _signal_of(f) for r, f in exc.failures.items()})) from None
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *_: stop.set())
    if where.node_rank:
        return "ready"
    state = _state_of(run, 0)
    if state not in ("ready", "cancelled"):
        raise RankFailed(f"rank 0 ended without saying how ({rank_file(run, 0).name} is missing)")
    return state


def _cancel_outcome(run: Run) -> str:
    """A cancel whose rank 0 did not record ``cancelled``: it failed while stopping, and says why."""
    record = _read(rank_file(run, 0))
    if record and record.get("state") == "failed":
        raise RankFailed(f"rank 0 failed while stopping: {record.get('reason')}")
    return "cancelled"


def _signal_of(failure: Any) -> tuple[int, str | None]:
    """A launcher's ProcessFailure as (exit code, the signal that killed it or None)."""
    code = int(failure.exitcode)
    return code, (failure.signal_name() if code < 0 else None)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None


def _state_of(run: Run, index: int) -> str | None:
    record = _read(rank_file(run, index))
    return record.get("state") if record else None


def rank_failure(run: Run, where: Layout, exits: dict[int, tuple[int, str | None]]) -> str:
    """One sentence naming the rank that failed first and why.

    When one rank dies the others fail after it, in their next collective
    (a peer gone) or at the launcher's SIGTERM. So: a rank killed by a signal
    the launcher did not send wins; then a rank whose own reason is not about
    its peers; then the earliest. ``exits``: this node's failed ranks, as
    (exit code, signal name).
    """
    of = f" of {where.processes}"
    records = {i: r for i in range(where.processes) if (r := _read(rank_file(run, i))) and r.get("state") == "failed"}
    killed = [(i, sig) for i, (_, sig) in sorted(exits.items()) if sig and sig != "SIGTERM" and i not in records]
    node = f" on {os.uname().nodename}" if where.nodes > 1 else ""
    if killed:
        index, sig = killed[0]
        return f"rank {index}{of}{node} was killed ({sig}), so the run stopped; `finetui resume` continues from the last checkpoint"
    own = {i: r for i, r in records.items() if not any(w in str(r.get("reason", "")).lower() for w in _PEER_WORDS)}
    local = range(where.node_rank * where.devices, (where.node_rank + 1) * where.devices)
    silent = [i for i in range(where.processes) if i not in local and not rank_file(run, i).exists()]
    if not own and silent:  # another machine's rank died without a word: the ones here only lost it
        lost = f": {records[min(records)].get('reason')}" if records else ""
        return f"rank {silent[0]}{of} (on another node) ended without saying why (killed, or its machine went down); the others lost it{lost}"
    pool = own or records
    if pool:
        index = min(pool, key=lambda i: (pool[i].get("time") or 0.0, i))
        where_ = f" on {pool[index]['node']}" if where.nodes > 1 and pool[index].get("node") else ""
        return f"rank {index}{of}{where_} failed: {pool[index].get('reason')}"
    if exits:
        index, (code, sig) = min(exits.items())
        how = f"was killed ({sig})" if sig else f"exited with code {code}"
        return f"rank {index}{of}{node} {how} without saying why"
    return f"a rank{of} failed without saying why (see process.log)"


def train(run: Run, stop: threading.Event, resume: bool, node_rank: int = 0) -> str:
    """Train the run in this process, or across its devices and nodes; ``ready`` or ``cancelled``, raises on failure."""
    where = layout(run.config(), node_rank)
    if where.processes == 1:
        from engine.train.finetune import fine_tune

        return fine_tune(run, stop, resume=resume)
    chosen, why = choose(run.config(), where.processes)
    os.environ[STRATEGY_ENV] = chosen
    if node_rank == 0:
        nodes = f"{where.devices} per node on {where.nodes} nodes" if where.nodes > 1 else "on this machine"
        run.log(f"launching {where.processes} processes {nodes}; {chosen.upper()}: {why}")
    return supervise(run, stop, resume, where)


def join(run: Run, stop: threading.Event, resume: bool, node_rank: int) -> int:
    """Another machine's part of a multi-node run: launch its ranks, write no status (node 0's worker does)."""
    try:
        supervise(run, stop, resume, layout(run.config(), node_rank))
    except RankFailed as exc:
        print(f"node {node_rank}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(rank_main())
