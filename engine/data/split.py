"""The seeded train/eval split.

Examples are grouped by their near-duplicate key, so copies of one example
always land on the same side; groups are ordered by a seeded hash of the
key, and the first groups go to eval until it holds the requested fraction.
The result depends only on the data and the seed, not on the machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.data.examples import Example
from engine.data.formats import DataSpec, iter_examples
from engine.data.quality import near_key

if TYPE_CHECKING:
    import numpy as np

DEFAULT_EVAL_FRACTION = 0.1
def _mix(keys: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 of key xor seed: a seeded, well-spread order for the groups."""
    import numpy as np

    mask = np.uint64(0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        z = keys ^ np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
        z = (z + np.uint64(0x9E3779B97F4A7C15)) & mask
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def eval_mask(group_keys: Sequence[int] | np.ndarray, eval_fraction: float = DEFAULT_EVAL_FRACTION, seed: int = 0) -> np.ndarray:
    """A boolean array, True for the examples that go to eval.

    At least one example goes to eval and at least one stays in train,
    unless there is only one distinct example, in which case all train.
    """
    import numpy as np  # imported here: the TUI imports this package and must start fast

    if not 0.0 < eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must be between 0 and 1, not {eval_fraction}")
    keys = np.asarray(group_keys, dtype=np.uint64)
    n = len(keys)
    mask = np.zeros(n, dtype=bool)
    unique, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    if len(unique) < 2:
        return mask
    order = np.argsort(_mix(unique, seed), kind="stable")
    target = max(1, round(n * eval_fraction))
    taken = np.cumsum(counts[order])
    groups = int(np.searchsorted(taken, target)) + 1
    groups = min(groups, len(unique) - 1)
    chosen = np.zeros(len(unique), dtype=bool)
    chosen[order[:groups]] = True
    mask[:] = chosen[inverse]
    return mask


def split_examples(
    spec: DataSpec, eval_fraction: float = DEFAULT_EVAL_FRACTION, seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """The file's examples as ``(train, eval)`` lists, split as ``scan`` reports it."""
    examples = list(iter_examples(spec))
    mask = eval_mask([near_key(e.render()) for e in examples], eval_fraction, seed)
    train = [e for e, is_eval in zip(examples, mask, strict=True) if not is_eval]
    held = [e for e, is_eval in zip(examples, mask, strict=True) if is_eval]
    return train, held
