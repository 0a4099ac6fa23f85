"""Sharing a CPU between a training run and the playground, which run in separate processes.

Each process would use every core. When both compute at once, torch's
threads in each wait on threads the other has pushed off the cores: on 2
cores, generation beside a training run fell from 58 to 1.3 tokens/s, and
the run's steps slowed about 25x. So each side takes one thread while the
other is busy, and all of them again once it is not. Each side tells it by a
lock the other holds: ``train.lock`` (held by the run that trains, see
``engine.runs.process``) and ``playground.lock`` (held during each playground
request). Nothing here imports torch.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from engine.files import locked
from engine.paths import home

TRAIN_LOCK = "train.lock"
PLAYGROUND_LOCK = "playground.lock"


def held(name: str) -> bool:
    """Whether anyone else holds the lock file ``name`` in the finetui home, shared or exclusive."""
    try:
        lock = (home() / name).open("r")
    except FileNotFoundError:
        return False
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
        return False


@contextmanager
def holding(name: str) -> Iterator[None]:
    """Hold the lock file ``name``, shared, for the length of the block.

    Shared: two playground processes (the TUI's and a ``finetui generate``)
    never wait for each other; ``held`` sees either.
    """
    with ExitStack() as stack:
        try:
            home().mkdir(parents=True, exist_ok=True)
            stack.enter_context(locked(home() / name, shared=True))
        except OSError:
            pass  # a read-only or full home: compute anyway; the other side just keeps its threads
        yield


class ThreadShare:
    """Sets torch's CPU threads to one while the other side holds its lock ``other``, else back to all."""

    def __init__(self, other: str) -> None:
        self.other = other
        self.full: int | None = None

    def update(self) -> None:
        import torch

        if self.full is None:
            self.full = torch.get_num_threads()
        wanted = 1 if held(self.other) else self.full
        if torch.get_num_threads() != wanted:
            torch.set_num_threads(wanted)
