"""The seeded train/eval split: deterministic, 10% by default, never splitting copies of an example."""

from __future__ import annotations

import random
import re
from collections import defaultdict
from pathlib import Path

import pytest

from engine.data import DataSpec, scan, split_examples

SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]


def distinct_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` different sentences of made-up words: no duplicates, no repetition."""
    rng = random.Random(seed)
    vocab = sorted({"".join(rng.choices(SYLLABLES, k=rng.randint(1, 3))) for _ in range(800)})
    return [f"{i} " + " ".join(rng.choices(vocab, k=rng.randint(8, 30))) + "." for i in range(n)]


def separated(tmp_path: Path, items: list[str]) -> DataSpec:
    path = tmp_path / "d.txt"
    path.write_text("\n--S--\n".join(items) + "\n", encoding="utf-8")
    return DataSpec(path, separator="--S--")


def indices(examples: list) -> list[int]:
    return [e.index for e in examples]


def test_same_seed_same_split_other_seed_other_split(tmp_path: Path) -> None:
    spec = separated(tmp_path, distinct_texts(500))
    train, held = split_examples(spec, seed=1)
    train2, held2 = split_examples(spec, seed=1)
    assert (indices(train), indices(held)) == (indices(train2), indices(held2))
    _, held_other = split_examples(spec, seed=2)
    assert indices(held_other) != indices(held)
    # Every example lands on exactly one side, in file order.
    assert sorted(indices(train) + indices(held)) == list(range(500))
    assert indices(train) == sorted(indices(train)) and indices(held) == sorted(indices(held))
    # Spread over the file, not a block at one end.
    assert min(indices(held)) < 250 < max(indices(held))


def test_ten_percent_eval_by_default(tmp_path: Path) -> None:
    train, held = split_examples(separated(tmp_path, distinct_texts(1000)))
    assert (len(train), len(held)) == (900, 100)


def test_eval_fraction_with_duplicate_groups_overshoots_by_less_than_a_group(tmp_path: Path) -> None:
    rng = random.Random(5)
    base = distinct_texts(400)
    items = [t for t in base for _ in range(rng.randint(1, 5))]
    rng.shuffle(items)
    items = items[:1000]
    largest_group = max(items.count(t) for t in set(items))
    for seed in range(5):
        train, held = split_examples(separated(tmp_path, items), seed=seed)
        assert len(train) + len(held) == 1000
        assert 100 <= len(held) <= 100 + largest_group - 1


def test_other_eval_fraction(tmp_path: Path) -> None:
    _, held = split_examples(separated(tmp_path, distinct_texts(200)), eval_fraction=0.25)
    assert len(held) == 50
    with pytest.raises(ValueError):
        split_examples(separated(tmp_path, distinct_texts(20)), eval_fraction=1.0)


@pytest.mark.parametrize("n", [2, 3, 5, 9])
def test_tiny_data_still_gets_one_eval_example(tmp_path: Path, n: int) -> None:
    spec = separated(tmp_path, distinct_texts(n))
    train, held = split_examples(spec)
    assert len(held) == 1 and len(train) == n - 1
    report = scan(spec)
    assert (report.train, report.eval) == (n - 1, 1)
    assert report.warning("no_eval_split") is None


def test_one_distinct_example_cannot_be_split(tmp_path: Path) -> None:
    spec = separated(tmp_path, ["the only one", "The only one!", "the only one"])
    train, held = split_examples(spec)
    assert (len(train), len(held)) == (3, 0)
    report = scan(spec)
    assert (report.train, report.eval) == (3, 0)
    assert report.warning("no_eval_split") is not None


def _near(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def test_copies_never_straddle_train_and_eval(tmp_path: Path) -> None:
    rng = random.Random(9)
    base = distinct_texts(150, seed=4)
    variants = [
        lambda t: t,
        lambda t: t.upper(),
        lambda t: "  " + t.replace(" ", "   ") + " ",
        lambda t: t.replace(" ", ", ") + "?!",
    ]
    items = [rng.choice(variants)(t) for t in base for _ in range(rng.randint(1, 4))]
    rng.shuffle(items)
    spec = separated(tmp_path, items)
    assert len({_near(t) for t in items}) == 150 and len(items) > 300
    for seed in range(10):
        train, held = split_examples(spec, seed=seed)
        side: dict[str, set[str]] = defaultdict(set)
        for name, examples in (("train", train), ("eval", held)):
            for e in examples:
                side[_near(e.text)].add(name)
        assert all(len(s) == 1 for s in side.values()), f"seed {seed}: a group straddles the split"
        assert held and train


@pytest.mark.parametrize("seed", [0, 3])
def test_split_examples_agrees_with_the_scan(tmp_path: Path, seed: int) -> None:
    items = distinct_texts(300) + distinct_texts(40)  # 40 exact duplicates
    random.Random(seed).shuffle(items)
    spec = separated(tmp_path, items)
    for fraction in (0.1, 0.3):
        train, held = split_examples(spec, eval_fraction=fraction, seed=seed)
        report = scan(spec, eval_fraction=fraction, seed=seed)
        assert (report.train, report.eval) == (len(train), len(held))
