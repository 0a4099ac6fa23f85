"""Large files stream: the first examples arrive before the file is read, and a scan can be cancelled."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from engine.data import Cancelled, DataSpec, iter_examples, scan

SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]
SIZE = 3_000_000


def big_file(tmp_path: Path, kind: str) -> DataSpec:
    """About ``SIZE`` bytes of distinct examples in one layout."""
    rng = random.Random(1)
    vocab = ["".join(rng.choices(SYLLABLES, k=rng.randint(1, 3))) for _ in range(500)]
    chunks, size, i = [], 0, 0
    while size < SIZE:
        text = f"{i} " + " ".join(rng.choices(vocab, k=rng.randint(20, 300)))
        if kind == "jsonl":
            chunk = json.dumps({"prompt": text[:30], "completion": text[30:]}) + "\n"
        elif kind == "separator":
            chunk = text + "\n<END>\n"
        else:
            chunk = text + "\n\n"
        chunks.append(chunk)
        size += len(chunk)
        i += 1
    path = tmp_path / ("d.jsonl" if kind == "jsonl" else "d.txt")
    path.write_text("".join(chunks))
    return DataSpec(path, separator="<END>" if kind == "separator" else None)


@pytest.mark.parametrize("kind", ["separator", "paragraphs", "jsonl"])
def test_preview_arrives_before_the_file_is_read(tmp_path: Path, kind: str) -> None:
    spec = big_file(tmp_path, kind)
    total = spec.path.stat().st_size
    progress: list[tuple[int, int]] = []
    read_at_preview: list[int] = []

    def on_preview(example: object) -> None:
        read_at_preview.append(progress[-1][0] if progress else 0)

    report = scan(spec, on_preview=on_preview, on_progress=lambda done, size: progress.append((done, size)))
    assert len(read_at_preview) == 5
    assert read_at_preview[0] < total / 10, "the first example waited for most of the file"
    # Progress goes up to the whole file, in several steps.
    assert progress[-1] == (total, total)
    assert len(progress) >= 3
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    assert report.examples > 1000


def test_iter_examples_is_lazy(tmp_path: Path) -> None:
    spec = big_file(tmp_path, "separator")
    progress: list[int] = []
    examples = iter_examples(spec, on_progress=lambda done, size: progress.append(done))
    first = [next(examples) for _ in range(3)]
    assert [e.index for e in first] == [0, 1, 2]
    total = spec.path.stat().st_size
    assert all(done < total / 10 for done in progress), "three examples read a tenth of the file"
    # The same iterator, run to the end, does report the whole file: the quiet above was laziness.
    assert sum(1 for _ in examples) > 1000
    assert progress[-1] == total


def test_should_stop_cancels_the_scan(tmp_path: Path) -> None:
    spec = big_file(tmp_path, "separator")
    total = spec.path.stat().st_size
    progress: list[int] = []
    stop = {"now": False}

    def on_preview(example: object) -> None:
        stop["now"] = True

    with pytest.raises(Cancelled):
        scan(spec, on_preview=on_preview, on_progress=lambda done, size: progress.append(done), should_stop=lambda: stop["now"])
    # An uncancelled scan reports progress up to the whole file (test_preview_arrives_before_the_file_is_read);
    # this one stopped before half of it.
    assert total not in progress
    assert all(done < total / 2 for done in progress)


def test_should_stop_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "d.txt"
    path.write_text("a\n--S--\nb\n")
    seen: list[object] = []
    with pytest.raises(Cancelled):
        scan(DataSpec(path, separator="--S--"), on_preview=seen.append, should_stop=lambda: True)
    assert seen == []
    # And a should_stop that never fires changes nothing.
    assert scan(DataSpec(path, separator="--S--"), should_stop=lambda: False).examples == 2
