"""What a run's model was trained to read and to end with: the chat template and the end-of-turn tokens.

An exported model answers like the trained one only if it gets the same text
layout and stops at the same tokens. The run's template is the one
``engine.train.templates.for_run`` returns (saved with the adapter); its end
of turn is what ``engine.train.templates.end_of_turn`` finds in it, plus the
tokenizer's eos that closes every example.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.runs import Run
from engine.train.templates import DEFAULT_TEMPLATE, TEMPLATE_FILE, RunTemplate, end_of_turn, for_run, model_template


@dataclass(frozen=True)
class TrainedFormat:
    """The run's text layout and the tokens its answers end with."""

    template: RunTemplate
    """What ``templates.for_run`` says the run trained with."""
    chat: bool
    """Whether prompts reached the model through the template: chats, or pairs trained as chats."""
    chat_template: str | None
    """The template an exported tokenizer carries: the run's, else the base model's own (None if it has none)."""
    eos_token: str | None
    eos_token_ids: tuple[int, ...]
    """Every token id that ends an answer: the eos and the template's end of turn; where generation stops."""

    @property
    def default_template(self) -> bool:
        return self.chat_template == DEFAULT_TEMPLATE

    @property
    def eos_tokens(self) -> tuple[str, ...]:
        return (self.eos_token,) if self.eos_token else ()


def trained_format(run: Run, tokenizer: Any) -> TrainedFormat:
    """The format ``run`` trained with; ``tokenizer`` is the base model's, as training loaded it."""
    template = for_run(run.adapter_dir, run.config().data.chat_template, tokenizer)
    # Training saves the template with the adapter only when it rendered something with it.
    chat = template.text is not None and (template.prompts or (run.adapter_dir / TEMPLATE_FILE).is_file())
    shipped = template.text if chat else model_template(tokenizer)
    ids: set[int] = {int(tokenizer.eos_token_id)} if tokenizer.eos_token_id is not None else set()
    if chat and template.text is not None:
        ids |= end_of_turn(tokenizer, template.text)[0]
    return TrainedFormat(template, chat, shipped, tokenizer.eos_token, tuple(sorted(ids)))
