"""Data files compressed with gzip, bzip2 or xz read as their content does; what is not data is named."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.data import DataError, DataSpec, detect_format, iter_examples, scan
from engine.data.names import data_stem, data_suffix
from engine.data.sniff import sniff_separator

ROWS = [{"prompt": f"question {i}", "completion": f"answer {i}"} for i in range(50)]
JSONL = "".join(json.dumps(row) + "\n" for row in ROWS).encode()
COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}


@pytest.mark.parametrize("suffix", COMPRESSORS)
def test_a_compressed_file_reads_as_the_file_it_holds(tmp_path: Path, suffix: str) -> None:
    plain = tmp_path / "qa.jsonl"
    plain.write_bytes(JSONL)
    packed = tmp_path / f"qa.jsonl{suffix}"
    packed.write_bytes(COMPRESSORS[suffix](JSONL))
    assert detect_format(DataSpec(packed)) == "jsonl"
    assert list(iter_examples(DataSpec(packed))) == list(iter_examples(DataSpec(plain)))


def test_the_compression_is_found_by_content_not_name(tmp_path: Path) -> None:
    table = b"prompt,completion\nq,a\n"
    path = tmp_path / "export.data"  # no telling name at all
    path.write_bytes(gzip.compress(table))
    assert detect_format(DataSpec(path)) == "csv"
    assert [e.completion for e in iter_examples(DataSpec(path))] == ["a"]


def test_text_with_markers_is_split_and_sniffed_through_gzip(tmp_path: Path) -> None:
    path = tmp_path / "stories.txt.gz"
    path.write_bytes(gzip.compress("".join(f"story {i}\n--SEPARATOR--\n" for i in range(30)).encode()))
    suggestion = sniff_separator(path)
    assert suggestion is not None and suggestion.separator == "--SEPARATOR--"
    texts = [e.text for e in iter_examples(DataSpec(path, separator="--SEPARATOR--"))]
    assert texts[:2] == ["story 0", "story 1"] and len(texts) == 30


@pytest.mark.slow
def test_progress_counts_the_compressed_bytes_up_to_the_file_size(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl.gz"
    rows = "".join(json.dumps({"text": f"line {i} " + "x" * 200}) + "\n" for i in range(20_000)).encode()
    path.write_bytes(gzip.compress(rows))
    seen: list[tuple[int, int]] = []
    report = scan(DataSpec(path), on_progress=lambda done, total: seen.append((done, total)))
    size = path.stat().st_size
    assert report.examples == 20_000 and report.file_bytes == size
    assert seen[-1] == (size, size) and len(seen) > 2  # several reports on the way (the text is 4 MB, ~1 MB a report)
    assert all(done <= total == size for done, total in seen) and [d for d, _ in seen] == sorted(d for d, _ in seen)


@pytest.mark.slow
def test_a_cut_short_archive_names_the_line_where_it_breaks(tmp_path: Path) -> None:
    rows = "".join(json.dumps({"text": f"line {i} " + "y" * 50}) + "\n" for i in range(100_000)).encode()
    packed = gzip.compress(rows)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError) as caught:
        list(iter_examples(DataSpec(path)))
    err = caught.value
    assert err.code == "binary" and err.line is not None and 1 < err.line < 100_000
    assert "gzip data is cut short or damaged" in err.message and "\n" not in str(err)


def test_an_archive_too_damaged_to_start_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "tiny.jsonl.gz"
    path.write_bytes(gzip.compress(JSONL)[:20])
    with pytest.raises(DataError) as caught:
        detect_format(DataSpec(path))
    assert caught.value.code == "binary" and "gzip data is cut short or damaged" in caught.value.message


def test_an_archive_of_nothing_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "none.txt.gz"
    path.write_bytes(gzip.compress(b""))
    with pytest.raises(DataError) as caught:
        detect_format(DataSpec(path))
    assert caught.value.code == "empty" and "once decompressed (gzip)" in caught.value.message


def _zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")


@pytest.mark.parametrize(
    ("name", "make", "words"),
    [
        ("sheet.xlsx", _zip, "zip archive"),
        ("paper.pdf", lambda p: p.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"), "PDF"),
        ("train.jsonl.zst", lambda p: p.write_bytes(b"\x28\xb5\x2f\xfd\x04\x58\x00\x00"), "zstd"),
    ],
)
def test_files_that_are_not_data_are_named(tmp_path: Path, name: str, make: Callable[[Path], None], words: str) -> None:
    path = tmp_path / name
    make(path)
    with pytest.raises(DataError) as caught:
        detect_format(DataSpec(path))
    assert caught.value.code == "binary" and words in caught.value.message
    assert "UTF-16" not in caught.value.message


def test_names_skip_the_compression_suffix() -> None:
    assert (data_suffix(Path("d/Train.JSONL.GZ")), data_stem(Path("d/train.jsonl.gz"))) == (".jsonl", "train")
    assert (data_suffix(Path("notes.txt")), data_stem(Path("notes.txt"))) == (".txt", "notes")
    assert (data_suffix(Path("archive.gz")), data_stem(Path("archive.gz"))) == ("", "archive")


def test_cli_inspect_reads_a_gzip_file(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl.gz"
    path.write_bytes(gzip.compress(JSONL))
    done = subprocess.run([sys.executable, "-m", "tui.cli", "inspect", str(path), "--show", "1"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "format     jsonl, prompt/completion" in done.stdout and "examples   50" in done.stdout
