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

from engine.runs.events import EvalFigures
from engine.train.tokenize import IGNORE, Encoded


def evaluate(model: Any, encoded: list[Encoded], pad_id: int, batch_size: int = 8) -> EvalFigures:
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
        return EvalFigures(None, None, 0)
    return EvalFigures(total_loss / count, correct / count, count)
