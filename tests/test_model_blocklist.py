"""The blocklist: the published list matched whole-word, the corpus filtered with it, and the bundled model's generations clean."""

from __future__ import annotations

import json

import pytest

from engine.paths import SAMPLE_DATA
from engine.pretrain.blocklist import PROMPTS, bad_words_ids, drop_paragraphs, load_blocklist

BUNDLED = SAMPLE_DATA / "models" / "finetui-tiny"


def test_the_list_is_the_published_one() -> None:
    blocklist = load_blocklist()
    assert blocklist.package == "wordfilter"
    assert len(blocklist.words) > 50
    assert all(w == w.lower() and w.strip() == w for w in blocklist.words)


def test_words_count_whole_in_any_case_with_plural_endings() -> None:
    # "lame" is on the list; it stands in for the slurs, which this file does not spell out.
    blocklist = load_blocklist()
    assert "lame" in blocklist.words
    assert blocklist.find("A lame horse. LAME ones, Lames! lame-footed, the lame's") == ["lame"] * 5
    # Substrings are not words: wordfilter's own substring test would flag these.
    assert blocklist.find("Lamentation, blamed, flames, lameness") == []
    assert blocklist.find("He sniggered at the abode in Japan.") == []


def test_drop_paragraphs_keeps_the_others_whole() -> None:
    text = "The first paragraph.\n\nA lame horse\nwent by.\n\nThe last one.\n"
    kept, dropped = drop_paragraphs(text, load_blocklist())
    assert (kept, dropped) == ("The first paragraph.\n\nThe last one.\n", 1)


@pytest.mark.slow  # about 5 s: it scans the whole bundled corpus
def test_the_corpus_holds_no_listed_word() -> None:
    blocklist = load_blocklist()
    books = sorted((SAMPLE_DATA / "corpus-v2").glob("*.txt"))
    assert books
    for book in books:
        assert blocklist.find(book.read_text(encoding="utf-8")) == [], book.name


def test_prompts_are_varied() -> None:
    assert len(set(PROMPTS)) == len(PROMPTS) >= 20


def test_the_guard_spells_every_listed_word_in_every_form_it_counts() -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(BUNDLED)
    blocklist = load_blocklist()
    sequences = bad_words_ids(tokenizer, blocklist)
    texts = [tokenizer.decode(ids) for ids in sequences]
    # Each sequence is one listed word, whole, as find counts it; and each form is there.
    assert all(len(blocklist.find(text)) == 1 for text in texts)
    for form in ("lame", " lame", " Lames", "LAMES", " Lame"):
        assert tokenizer(form, add_special_tokens=False)["input_ids"] in sequences, form


def test_the_bundled_model_ships_the_guard() -> None:
    from transformers import AutoTokenizer, GenerationConfig

    config = GenerationConfig.from_pretrained(BUNDLED)
    assert config.bad_words_ids == bad_words_ids(AutoTokenizer.from_pretrained(BUNDLED), load_blocklist())


@pytest.mark.slow
def test_bundled_model_generates_no_listed_word() -> None:
    """200 sampled generations of the bundled model, as in its card: no listed word in any."""
    from engine.pretrain.blocklist import scan_generations
    from engine.pretrain.card import load_saved

    model, tokenizer = load_saved(BUNDLED)
    args = json.loads((BUNDLED / "pretrain_args.json").read_text())
    scan = scan_generations(model, tokenizer, load_blocklist(), n=200, seed=args["seed"])
    assert scan["guard"] and len(scan["texts"]) == 200 and all(scan["texts"])
    assert [h["generation"] for h in scan["hits"]] == []  # indices only: the words themselves stay out of the log
    card = json.loads((BUNDLED / "metrics.json").read_text())["blocklist"]
    assert (card["generations"], card["hits"]) == (200, [])
