"""The one evaluation forward: token rows in, each scored token's log-probability, rank and hit out.

The training scorecard (``engine.train.scorecard``: loss and accuracy on the
held-out split) and the playground's likelihood (``engine.infer.session``:
log-probabilities and ranks per token) both score "how likely was each next
token", on rows of different lengths, under a mask of which tokens count.
They share this one padded, batched forward, so that a loss in the
scorecard and a log-likelihood in the playground are the same number for
the same tokens. Callers choose the batches (the scorecard a fixed size,
the playground a logits budget) and what to add up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RowScores:
    """The scored tokens of one row, in order: their ids, log-probabilities, ranks (1: the model's top
    choice, ties counted in the token's favour) and whether each was the argmax (``hits``)."""

    targets: Any
    logprobs: Any
    ranks: Any
    hits: Any

    @property
    def count(self) -> int:
        return int(self.targets.numel())


def score_rows(model: Any, rows: Sequence[Sequence[int]], scored: Sequence[Sequence[bool]], pad_id: int, **forward: Any) -> list[RowScores]:
    """Score the rows in one forward pass, right-padded with an attention mask.

    ``scored[r][i]`` says whether token ``i`` of row ``r`` counts; it is
    predicted from the tokens before it, so token 0 never does. ``forward``
    goes to the model's call (peft's ``adapter_names``, say). Log-probs are
    computed in float32 whatever the model's dtype. Call it under
    ``torch.inference_mode()`` or ``no_grad``.
    """
    import torch

    device = next(model.parameters()).device
    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    keep = torch.zeros((len(rows), width), dtype=torch.bool)
    for r, row in enumerate(rows):
        ids[r, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[r, : len(row)] = 1
        keep[r, : len(row)] = torch.tensor(list(scored[r]), dtype=torch.bool)
    keep[:, 0] = False
    logits = model(input_ids=ids.to(device), attention_mask=mask.to(device), **forward).logits
    out = []
    for r in range(len(rows)):
        positions = keep[r, 1:].nonzero()[:, 0].to(logits.device)  # a token at i + 1 is predicted at i
        targets = ids[r, 1:].to(logits.device)[positions]
        logprobs = torch.log_softmax(logits[r, positions].float(), dim=-1)
        chosen = logprobs.gather(1, targets[:, None])[:, 0]
        ranks = (logprobs > chosen[:, None]).sum(-1) + 1
        out.append(RowScores(targets, chosen, ranks, logprobs.argmax(-1) == targets))
    return out
