"""The scorecard: token accuracy and loss on the held-out split, baseline against custom.

The baseline is the same model with the LoRA adapter switched off, so the
comparison isolates what fine-tuning changed. Loss is the mean cross-entropy
per trained token (completion tokens only, for prompt/completion data), and
accuracy is the share of those tokens the model ranks first. With no scored
token (an eval split whose examples are all prompt) loss and accuracy are
None, never NaN: the scorecard says so and stays valid JSON.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from engine.train.tokenize import IGNORE, Encoded


@dataclass
class EvalResult:
    """Loss and token accuracy over ``tokens`` scored tokens; None for both when no token was scored."""

    loss: float | None
    accuracy: float | None
    tokens: int

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> EvalResult:
        """An eval read back from the event log; ``ValueError`` if a figure is missing or not a number."""
        loss, accuracy, tokens = raw.get("loss"), raw.get("accuracy"), raw.get("tokens")
        if not isinstance(tokens, int) or tokens < 0:
            raise ValueError(f"eval tokens must be a count, not {tokens!r}")
        for value in (loss, accuracy):
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise ValueError(f"eval figure must be a finite number, not {value!r}")
        return cls(loss, accuracy, tokens)


def evaluate(model: Any, encoded: list[Encoded], pad_id: int, batch_size: int = 8) -> EvalResult:
    """Score every held-out example, batched with right padding and an attention mask."""
    import torch

    device = next(model.parameters()).device
    total_loss = 0.0
    correct = 0
    count = 0
    was_training = model.training
    model.eval()
    ordered = sorted(encoded, key=len)
    with torch.no_grad():
        for start in range(0, len(ordered), batch_size):
            batch = ordered[start : start + batch_size]
            width = max(len(e) for e in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, e in enumerate(batch):
                ids[row, : len(e)] = torch.tensor(e.input_ids)
                labels[row, : len(e)] = torch.tensor(e.labels)
                mask[row, : len(e)] = 1
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
            shifted = logits[:, :-1].reshape(-1, logits.shape[-1])
            target = labels[:, 1:].reshape(-1).to(device)
            keep = target != IGNORE
            if keep.any():
                total_loss += torch.nn.functional.cross_entropy(shifted[keep], target[keep], reduction="sum").item()
                correct += (shifted[keep].argmax(-1) == target[keep]).sum().item()
                count += int(keep.sum().item())
    if was_training:
        model.train()
    if count == 0:
        return EvalResult(None, None, 0)
    return EvalResult(total_loss / count, correct / count, count)


def scorecard(baseline: EvalResult, custom: EvalResult, train: dict[str, Any]) -> dict[str, Any]:
    """The ``metrics.json`` content: both evals, the change in each (None without eval tokens), and the training figures."""
    scored = baseline.tokens > 0 and custom.tokens > 0
    return {
        "baseline": baseline.to_dict(),
        "custom": custom.to_dict(),
        "change": {
            "loss": custom.loss - baseline.loss if scored else None,
            "accuracy_points": 100.0 * (custom.accuracy - baseline.accuracy) if scored else None,
        },
        "train": train,
    }
