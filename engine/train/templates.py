"""Which chat template a run trains with, how a conversation renders with it, and where the run keeps it.

Training, the playground and export must render a conversation the same
way, token for token, or the custom model is asked questions in a form it
never saw. Every one of them goes through this module:

- ``resolve`` decides, once, when the run starts training: chats always
  use a template (the model's own, or ``DEFAULT_TEMPLATE`` for a base model
  that has none); prompt/completion pairs use it when ``data.chat_template``
  is ``on``, or ``auto`` on a model that has a template of its own (an
  instruct model); plain text never does. The resolved ``on``/``off`` goes
  back into the run's ``config.json`` (``record``).
- ``save`` writes the template the run trained with into its adapter folder
  as ``chat_template.jinja`` (transformers' own file name for a tokenizer's
  template), so it travels with the adapter.
- ``for_run`` reads it back: this is the one answer to "which template did
  this run train with", for the playground and for export (an exported
  tokenizer gets ``RunTemplate.text`` as its ``chat_template``). A run
  trained before templates were saved (no file) falls back to what training
  used then: the model's own template, else the default.
- ``render`` is the one rendering: ``apply_chat_template`` with the
  template passed explicitly, tokenized without added special tokens, as
  the training encoder (``engine.train.tokenize``) and the playground's
  chat prompt (``prompt_ids``) both use it.
- ``end_of_turn`` finds the tokens that close an assistant turn in the
  template, so a chat generation stops where training taught it to.

No torch here; the tokenizer is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from engine.data import Example, Message

#: The file, in a run's adapter folder, holding the template the run trained with.
TEMPLATE_FILE = "chat_template.jinja"
#: ``data.chat_template``: whether prompt/completion pairs are rendered as a chat (a user turn, an assistant turn).
USE_TEMPLATE = ("auto", "on", "off")

#: The documented default for a model whose tokenizer has no template (the bundled finetui-tiny, base
#: models): plain "User: ... / Assistant: ..." lines, tools and tool calls written out, each assistant turn
#: closed by the model's end-of-sequence token, which is where generation stops. Each turn's rendering
#: extends the one before, and the generation prompt ("Assistant:") is the start of the next assistant
#: turn, as the turn masking and the playground need.
DEFAULT_TEMPLATE = (
    "{% if tools %}Tools:\n{% for tool in tools %}{{ tool | tojson }}\n{% endfor %}\n{% endif %}"
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}System: {{ m['content'] }}\n"
    "{% elif m['role'] == 'user' %}User: {{ m['content'] }}\n"
    "{% elif m['role'] == 'tool' %}Tool result: {{ m['content'] }}\n"
    "{% else %}Assistant: {{ m['content'] }}"
    "{% for call in m.get('tool_calls') or [] %}[call {{ call['function']['name'] }}({{ call['function']['arguments'] | tojson }})]{% endfor %}"
    "{{ eos_token }}\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)

Source = Literal["model", "default", "none"]


class TemplateError(ValueError):
    """The chat template can't render an example: it raises (its own ``raise_exception``, the sandbox's ``SecurityError``,
    a range over the sandbox's limit) or drops what the example holds (see ``engine.train.tokenize``)."""


@dataclass(frozen=True)
class RunTemplate:
    """The template a run trains (or trained) with, and what it is used for."""

    text: str | None
    """The Jinja template; None when nothing the run trains on is rendered as a chat."""
    prompts: bool
    """Prompt/completion pairs are rendered as a user turn and an assistant turn (``data.chat_template`` on)."""
    source: Source
    """``model`` (the tokenizer's own), ``default`` (``DEFAULT_TEMPLATE``) or ``none``."""

    def describe(self) -> str:
        """A few words for the run's log and the playground."""
        if self.text is None:
            return "no chat template"
        whose = "the model's chat template" if self.source == "model" else "finetui's default chat template (User:/Assistant:)"
        return whose + (", prompt/completion pairs as chats" if self.prompts else "")


def model_template(tokenizer: Any) -> str | None:
    """The tokenizer's own chat template (a named default when it has several), None when it has none."""
    value = getattr(tokenizer, "chat_template", None)
    if isinstance(value, dict):
        value = value.get("default") or next(iter(value.values()), None)
    return value or None


def template_or_default(tokenizer: Any) -> tuple[str, Source]:
    """The model's own template, else ``DEFAULT_TEMPLATE``: what a chat is rendered with."""
    own = model_template(tokenizer)
    return (own, "model") if own else (DEFAULT_TEMPLATE, "default")


def resolve(setting: str, kinds: set[str], tokenizer: Any) -> RunTemplate:
    """The template a run whose data holds examples of ``kinds`` trains with, under ``data.chat_template``.

    ``auto`` renders prompt/completion pairs as chats on a model that has a
    template of its own (an instruct model expects its turns), and leaves
    them as plain text on a base model; ``on`` and ``off`` force it. Chats
    always use a template; plain text never does.
    """
    if setting not in USE_TEMPLATE:
        raise ValueError(f"data.chat_template must be one of {', '.join(USE_TEMPLATE)}, not {setting!r}")
    own = model_template(tokenizer)
    prompts = "prompt_completion" in kinds and (setting == "on" or (setting == "auto" and own is not None))
    if not prompts and "messages" not in kinds:
        return RunTemplate(None, False, "none")
    text, source = template_or_default(tokenizer)
    return RunTemplate(text, prompts, source)


def as_chat(example: Example) -> Example:
    """A prompt/completion pair as a two-turn chat (the prompt the user's, the completion the assistant's)."""
    if example.kind != "prompt_completion":
        return example
    turns = (Message("user", example.prompt), Message("assistant", example.completion))
    return Example(example.index, example.line, "messages", messages=turns)


def apply(template: RunTemplate, tokenizer: Any, examples: list[Example]) -> list[Example]:
    """Make ``tokenizer`` render with ``template`` and return ``examples`` as training encodes them."""
    if template.text is not None:
        tokenizer.chat_template = template.text
    return [as_chat(e) for e in examples] if template.prompts else examples


def record(config_path: Path, template: RunTemplate) -> None:
    """Write the resolved ``data.chat_template`` (``on``/``off``) into the run's ``config.json``."""
    from engine.files import read_json, write_json_atomic

    raw = read_json(config_path)
    value = "on" if template.prompts else "off"
    if raw.get("data", {}).get("chat_template") != value:
        raw.setdefault("data", {})["chat_template"] = value
        write_json_atomic(config_path, raw)


def save(adapter_dir: Path, template: RunTemplate) -> None:
    """Keep the run's template with its adapter (``chat_template.jinja``), or nothing when it used none."""
    if template.text is not None:
        (adapter_dir / TEMPLATE_FILE).write_text(template.text, encoding="utf-8")


def for_run(adapter_dir: Path, chat_template: str, tokenizer: Any) -> RunTemplate:
    """The template a run trained with: the one saved in its adapter folder, else what training used then.

    ``chat_template`` is the run's ``data.chat_template`` (``on`` when its
    prompt/completion pairs were rendered as chats). A run trained before
    the template was saved with the adapter rendered its chats with the
    model's own template, else the default, which is what this returns.
    This is the function export reads the template from.
    """
    saved = adapter_dir / TEMPLATE_FILE
    prompts = chat_template == "on"
    if saved.is_file():
        text = saved.read_text(encoding="utf-8")
        return RunTemplate(text, prompts, "default" if text == DEFAULT_TEMPLATE else "model")
    text, source = template_or_default(tokenizer)
    return RunTemplate(text, prompts, source)


def render(tokenizer: Any, template: str, turns: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
           *, tokenize: bool, generation_prompt: bool = False) -> Any:
    """The conversation rendered with ``template``: its text, or its token ids (no special tokens added).

    ``TemplateError`` when the template fails: it is the model's code, not
    finetui's, and whatever it raises is said in one line.
    """
    try:
        out = tokenizer.apply_chat_template(
            turns, tools=tools or None, chat_template=template, tokenize=tokenize, add_generation_prompt=generation_prompt
        )
    except Exception as exc:  # a template can raise anything: TemplateError, SecurityError, OverflowError, TypeError
        text = " ".join(str(exc).split()) or "no message"
        whose = f" of {tokenizer.name_or_path}" if getattr(tokenizer, "name_or_path", "") else ""
        raise TemplateError(f"the chat template{whose} fails: {type(exc).__name__}: {text[:300]}") from None
    if tokenize and hasattr(out, "keys"):
        out = out["input_ids"]
    return list(out) if tokenize else out


def prompt_ids(tokenizer: Any, template: str, turns: list[dict[str, Any]]) -> tuple[str, list[int]]:
    """What a model answering ``turns`` reads: the conversation with the generation prompt, as text and ids."""
    return (render(tokenizer, template, turns, tokenize=False, generation_prompt=True),
            render(tokenizer, template, turns, tokenize=True, generation_prompt=True))


#: A reply no template would write by itself, to find what a template puts after an assistant turn.
_MARK = "finetui-end-of-turn-probe"


def end_of_turn(tokenizer: Any, template: str) -> tuple[set[int], tuple[str, ...]]:
    """The tokens that close an assistant turn in ``template``, and stop strings when it closes with plain text.

    The template renders a one-turn exchange; whatever follows the reply's
    text is the turn's end. Its special tokens (``</s>``, ``<|im_end|>``,
    ``<|eot_id|>``, ``<end_of_turn>``) end a generation; a template that ends
    turns with plain text only gets that text as a stop string.
    """
    text = render(tokenizer, template, [{"role": "user", "content": "hi"}, {"role": "assistant", "content": _MARK}], tokenize=False)
    after = text[text.rfind(_MARK) + len(_MARK):] if _MARK in text else ""
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    decoder = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    special |= {i for i, token in decoder.items() if getattr(token, "special", False)}
    ids = {i for i in tokenizer(after, add_special_tokens=False)["input_ids"] if i in special} if after else set()
    stops = () if ids or not after.strip() else (after.strip(),)
    return ids, stops


def turn_json(m: Message) -> dict[str, Any]:
    """A message as a chat template takes it (no ``weight``: templates don't know it)."""
    out = m.to_json()
    out.pop("weight", None)
    return out

