"""Pretraining the bundled model from scratch (``python -m engine.pretrain``).

- ``corpus``: clean the public-domain books and split off the held-out end of each.
- ``blocklist``: the published slur/profanity list the corpus is filtered with and the card checks against.
- ``tokenizer``: a byte-level BPE trained with ``tokenizers``.
- ``train``: the Llama model, the loop, held-out bits per byte, the saved folder.
- ``card``: the model card and its checks, run on the saved folder.

Importing this package does not import torch.
"""

from engine.pretrain.args import PretrainArgs

__all__ = ["PretrainArgs"]
