"""A byte-level BPE tokenizer trained from scratch with ``tokenizers``.

Byte-level means every string round-trips exactly (no unknown token), which
bits per byte needs: the held-out bytes are the bytes the tokens decode to.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

BOS = "<s>"
EOS = "</s>"
PAD = "<pad>"
SPECIAL_TOKENS = (BOS, EOS, PAD)


def train_tokenizer(texts: Iterable[str], vocab_size: int, model_max_length: int, min_frequency: int = 2) -> PreTrainedTokenizerBase:
    """Train a byte-level BPE on ``texts``; returns a transformers tokenizer that adds ``<s>`` in front.

    ``model_max_length`` is the model's context, so that ``truncation=True`` cuts there.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 256 + len(SPECIAL_TOKENS):
        raise ValueError(f"vocab_size must be at least {256 + len(SPECIAL_TOKENS)} (bytes + special tokens), not {vocab_size}")
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        add_bos_token=True,
        add_eos_token=False,
        clean_up_tokenization_spaces=False,
        model_max_length=model_max_length,
    )
