"""Pretraining: corpus cleaning, the recipe's checks, a quick end-to-end run, and the bundled model's files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from engine.paths import SAMPLE_DATA
from engine.pretrain.args import PretrainArgs
from engine.pretrain.corpus import clean_book, repair_mojibake, split_book, strip_gutenberg

BUNDLED = SAMPLE_DATA / "models" / "finetui-tiny"

GUTENBERG = """The Project Gutenberg EBook of A Book, by Someone

This eBook is for the use of anyone anywhere at no cost.

*** START OF THIS PROJECT GUTENBERG EBOOK A BOOK ***

Produced by A. Volunteer




CHAPTER I.

It was a fine day.

End of the Project Gutenberg EBook of A Book, by Someone

*** END OF THIS PROJECT GUTENBERG EBOOK A BOOK ***

Section 1. General Terms of Use ...
"""


def test_strip_gutenberg_keeps_only_the_book() -> None:
    text, header, footer = strip_gutenberg(GUTENBERG)
    assert text.strip() == "CHAPTER I.\n\nIt was a fine day."
    assert header > 0 and footer > 0


def test_clean_book_without_boilerplate_keeps_the_words() -> None:
    text, report = clean_book(" One line.\n Two lines.\n\n\n\n\n Three.\n")
    assert text == "One line.\nTwo lines.\n\n\nThree.\n"
    assert (report.header_chars, report.footer_chars, report.dedented) == (0, 0, True)


def test_repair_mojibake() -> None:
    fixed, count = repair_mojibake("Vie de BohÃ¨me, Â£4 a week, VoilÃ  tout, itâ€™s")
    assert fixed == "Vie de Bohème, £4 a week, Voilà tout, it’s"
    assert count == 4


def test_split_book_cuts_at_a_paragraph() -> None:
    text = "".join(f"Paragraph {i} is here.\n\n" for i in range(100))
    train, held = split_book(text, 0.1)
    assert train + held == text
    assert held.startswith("Paragraph ") and train.endswith("\n\n")
    assert 0.05 < len(held) / len(text) < 0.11


def test_bundled_corpus_has_no_licence_boilerplate() -> None:
    books = sorted((SAMPLE_DATA / "corpus-v2").glob("*.txt"))
    assert len(books) == 39
    sources = (SAMPLE_DATA / "corpus-v2" / "SOURCES.md").read_text(encoding="utf-8")
    for book in books:
        assert f"| {book.name} |" in sources, book.name
        text = book.read_text(encoding="utf-8")
        assert "gutenberg" not in text.lower(), book.name
        assert "Ã" not in text, book.name


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"d_model": 100}, "multiples of 64"),
        ({"n_heads": 3}, "multiple of n_heads"),
        ({"heldout_fraction": 1.5}, "heldout_fraction"),
        ({"precision": "fp8"}, "precision"),
        ({"steps": 0}, "steps"),
        ({"save_dtype": "int8"}, "save_dtype"),
    ],
)
def test_args_name_the_bad_value(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PretrainArgs(**change)


def test_lr_schedule_warms_up_then_decays_to_the_floor() -> None:
    from engine.pretrain.train import lr_at

    args = PretrainArgs(steps=100, warmup=10, lr=1e-3, min_lr_ratio=0.1)
    assert lr_at(0, args) == pytest.approx(1e-4)
    assert lr_at(9, args) == pytest.approx(1e-3)
    assert lr_at(99, args) == pytest.approx(1e-4, rel=0.01)
    assert all(lr_at(i, args) >= lr_at(i + 1, args) for i in range(10, 99))


@pytest.mark.slow
def test_quick_pretrain_end_to_end(tmp_path: Path) -> None:
    """The real entry point, a few steps on a toy config; the output loads with Auto classes, twice the same."""
    import torch
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.pretrain.__main__ import main

    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert main(["--quick", "--out", str(out)]) == 0
        runs.append(json.loads((out / "metrics.json").read_text()))
    out = tmp_path / "a"
    for f in ("config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "README.md", "pretrain_args.json"):
        assert (out / f).is_file(), f
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == ("<s>", "</s>", "<pad>")
    ids = tokenizer("Holmes smiled.")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and tokenizer.decode(ids, skip_special_tokens=True) == "Holmes smiled."
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.num_hidden_layers == 2
    assert next(model.parameters()).dtype == torch.float32  # stored in bfloat16, computed in float32 unless asked
    metrics = runs[0]
    assert metrics["heldout"]["loss"] < math.log(len(tokenizer))  # it learned something in 6 steps
    assert runs[0]["heldout"] == runs[1]["heldout"]  # seeded: the same figures again
    card = (out / "README.md").read_text()
    assert f"{metrics['heldout']['bits_per_byte']:.4f}" in card
    assert f"python -m engine.pretrain --quick --out {out}" in card
    # The card's checks ran on the saved (bfloat16) weights: outside text, blocklist scan, samples.
    with safe_open(out / "model.safetensors", "pt") as weights:
        assert {weights.get_tensor(k).dtype for k in weights.keys()} == {torch.bfloat16}
    assert [o["name"] for o in metrics["outside"]] == ["shakespeare.txt"]
    assert f"| shakespeare.txt | {metrics['outside'][0]['tokens']:,} |" in card
    assert metrics["blocklist"]["generations"] == 4 and metrics["blocklist"]["package"] == "wordfilter"
    assert len(metrics["samples"]) == 3 and card.count("**Prompt:**") == 3


def test_bundled_model_matches_its_card() -> None:
    metrics = json.loads((BUNDLED / "metrics.json").read_text())
    card = (BUNDLED / "README.md").read_text()
    assert (BUNDLED / "model.safetensors").stat().st_size < 25_000_000
    assert sum(p.stat().st_size for p in BUNDLED.iterdir()) < 25_000_000
    assert f"{metrics['params']:,}" in card
    assert f"{metrics['heldout']['bits_per_byte']:.4f}" in card
    assert f"{metrics['heldout']['loss']:.4f}" in card
    assert metrics["command"].startswith("python -m engine.pretrain") and metrics["command"] in card
    assert card.count("**Prompt:**") == 3
    args = json.loads((BUNDLED / "pretrain_args.json").read_text())
    config = json.loads((BUNDLED / "config.json").read_text())
    assert (config["hidden_size"], config["num_hidden_layers"], config["vocab_size"]) == (args["d_model"], args["n_layers"], args["vocab_size"])
    # What issue 14 asks of the card: context, size, bits per byte by source and outside the corpus, the blocklist.
    assert args["corpus"] == "sample_data/corpus-v2" and args["seq_len"] >= 512
    assert config["dtype"] == "float32"  # the weights are bfloat16; they load in float32 by default
    assert config["max_position_embeddings"] == args["seq_len"] and f"| context | {args['seq_len']} tokens" in card
    assert " MB on disk" in card
    books = sorted(p.name for p in (SAMPLE_DATA / "corpus-v2").glob("*.txt"))
    assert sorted(metrics["heldout_by_book"]) == books
    for name, h in metrics["heldout_by_book"].items():
        assert f"| {name} | {h['tokens']:,} | {h['bytes']:,} | {h['loss']:.4f} | {h['bits_per_byte']:.4f} |" in card
    assert any(o["name"] == "shakespeare.txt" for o in metrics["outside"])
    for o in metrics["outside"]:
        assert f"| {o['name']} | {o['tokens']:,} | {o['bytes']:,} | {o['loss']:.4f} | {o['bits_per_byte']:.4f} |" in card
    assert (metrics["blocklist"]["generations"], metrics["blocklist"]["hits"]) == (200, [])
    assert "200 generations" in card and ": no hits." in card
    assert metrics["blocklist"]["guard"] and f"{metrics['blocklist']['guard_sequences']:,} token sequences" in card
    # A second run of the same command, compared in the card.
    second = metrics["second_run"]
    assert second["command"].split("--out")[0] == metrics["command"].split("--out")[0]
    assert "### A second run" in card and f"| held-out, all | {metrics['heldout']['bits_per_byte']:.4f} |" in card


def test_held_out_loss_is_the_summed_cross_entropy_of_every_token_after_bos(tmp_path: Path) -> None:
    """Pretraining scores with engine.eval's forward; its sum is the plain cross-entropy over the windows, short ones too."""
    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM

    from engine.pretrain.heldout import evaluate, heldout_windows
    from tests.tiny_model import make_model

    model = AutoModelForCausalLM.from_pretrained(make_model(tmp_path), dtype=torch.float32)
    ids = [(7 * i) % 40 + 5 for i in range(70)]
    windows = heldout_windows(ids, bos=1, seq_len=16)  # 15 tokens a window after <s>, the last one shorter
    assert len(windows) == 5 and len(windows[-1]) < 16
    model.train()  # as in the training loop: evaluate scores in eval mode and gives the mode back
    nats, count = evaluate(model, windows, "cpu", "fp32", batch_size=3)
    assert model.training
    model.eval()
    expected = 0.0
    with torch.no_grad():
        for window in windows:
            x = torch.tensor([window])
            expected += float(F.cross_entropy(model(input_ids=x).logits[0, :-1], x[0, 1:], reduction="sum"))
    assert count == len(ids) and nats == pytest.approx(expected, rel=1e-5)
