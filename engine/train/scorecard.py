"""The scorecard: token accuracy and loss on the held-out split, baseline against custom.

The baseline is the same model with the LoRA adapter switched off, so the
comparison isolates what fine-tuning changed. Loss is the mean cross-entropy
per trained token (completion tokens only, for prompt/completion data), and
accuracy is the share of those tokens the model ranks first. With no scored
token (an eval split whose examples are all prompt) loss and accuracy are
None, never NaN: the scorecard says so and stays valid JSON.
"""

from __future__ import annotations

from typing import Any

from engine.eval import score_rows
from engine.runs import Run
from engine.runs.events import DURING, EvalEvent, EvalFigures
from engine.train.tokenize import IGNORE, Encoded


def evaluate(model: Any, encoded: list[Encoded], pad_id: int, batch_size: int = 8) -> EvalFigures:
    """Score every held-out example, ``batch_size`` at a time, with ``engine.eval``'s batched forward.

    The tokens that count are those with a label (the labels are the ids
    there, see ``engine.train.tokenize``).
    """
    import torch

    total_loss = 0.0
    correct = 0
    count = 0
    was_training = model.training
    model.eval()
    ordered = sorted(encoded, key=len)
    with torch.no_grad():
        for start in range(0, len(ordered), batch_size):
            batch = ordered[start : start + batch_size]
            scored = [[label != IGNORE for label in e.labels] for e in batch]
            for row in score_rows(model, [e.input_ids for e in batch], scored, pad_id):
                total_loss -= row.logprobs.sum().item()
                correct += int(row.hits.sum().item())
                count += row.count
    if was_training:
        model.train()
    if count == 0:
        return EvalFigures(None, None, 0)
    return EvalFigures(total_loss / count, correct / count, count)


def eval_curve(run: Run) -> list[tuple[int, float]]:
    """Step and eval loss of each evaluation during training, over all attempts (the newest score of a step wins)."""
    by_step: dict[int, float] = {}
    for _, e in run.events():
        if isinstance(e, EvalEvent) and e.which == DURING and e.step is not None and e.figures.loss is not None:
            by_step[e.step] = e.figures.loss
    return sorted(by_step.items())
