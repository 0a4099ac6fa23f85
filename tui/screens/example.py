"""One example shown whole, over the preview, and below it what training will see of it."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.screen import ModalScreen
from textual.widgets import Static
from textual.worker import get_current_worker

from engine.config import DEFAULT_MODEL, TrainConfig
from engine.data import DataSpec, Example
from engine.data.display import escape_controls
from tui.widgets.footer import KeysFooter
from tui.widgets.token_preview import TokenPreview, legend

#: Longest text drawn; wrapping megabytes of text would freeze the UI.
MAX_SHOWN_CHARS = 100_000
#: Seconds the token preview process may take (it loads the model's tokenizer).
PREVIEW_TIMEOUT = 300


def _clip(text: str) -> str:
    if len(text) <= MAX_SHOWN_CHARS:
        return escape_controls(text)
    return f"{escape_controls(text[:MAX_SHOWN_CHARS])}\n… ({len(text) - MAX_SHOWN_CHARS:,} more characters not shown)"


def example_body(example: Example) -> Text:
    """The example's fields, each under its label: prompt/completion, or the chat's roles."""
    if example.kind == "text":
        return Text(_clip(example.text))
    if example.kind == "prompt_completion":
        parts = [("prompt", example.prompt), ("completion", example.completion)]
    else:
        parts = []
        if example.tools:
            names = ", ".join(str(t.get("function", t).get("name", "?")) for t in example.tools)
            parts.append(("tools", names))
        for m in example.messages:
            label = m.role + (" · weight 0: not trained" if m.role == "assistant" and m.weight == 0 else "")
            calls = "".join(f"\n→ {c['function']['name']}({json.dumps(c['function']['arguments'], ensure_ascii=False)})" for c in m.tool_calls)
            parts.append((label, m.content + calls))
    body = Text()
    for i, (label, content) in enumerate(parts):
        if i:
            body.append("\n\n")
        body.append(f"{label}\n", "bold reverse")
        body.append(_clip(content))
    return body


@dataclass
class TokensPreviewed(TextualMessage):
    """The example's tokens as training encodes them: ``(text, trained)`` runs and a one-line summary."""

    spans: tuple[tuple[str, bool], ...]
    summary: str


@dataclass
class TokensPreviewFailed(TextualMessage):
    """Why the token preview could not be made (no tokenizer, a template that can't render the example)."""

    error: str


def spec_json(spec: DataSpec) -> str:
    """The spec as the preview process takes it."""
    return json.dumps(
        {"path": str(spec.path), "format": spec.format, "separator": spec.separator, "mapping": spec.mapping, "target_chars": spec.target_chars}
    )


class ExampleScreen(ModalScreen[None]):
    """The full text of one example and its tokens as training sees them; Escape closes it.

    The token preview is made by ``python -m engine.train.preview`` in a
    process of its own (it loads transformers), for the default model at the
    default sequence length: trained tokens are drawn bold on green, the
    context dimmed.
    """

    BINDINGS = [Binding("escape", "dismiss", "Close")]

    def __init__(self, example: Example, spec: DataSpec | None = None) -> None:
        super().__init__()
        self.example = example
        self.spec = spec

    def compose(self) -> ComposeResult:
        e = self.example
        with Vertical(id="example-dialog") as dialog:
            dialog.border_title = f"Example #{e.index}"
            dialog.border_subtitle = f"line {e.line} · {e.chars:,} chars · {e.kind.replace('_', '/')}"
            with VerticalScroll(id="example-scroll"):
                yield Static(example_body(e), id="example-text")
                if self.spec is not None:
                    yield Static(legend(DEFAULT_MODEL), id="tokens-title")
                    yield Static(f"Rendering with {DEFAULT_MODEL}'s tokenizer…", id="tokens-summary")
                    yield TokenPreview(id="tokens")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#example-scroll").focus()
        if self.spec is not None:
            self.preview_tokens(self.spec)

    def preview_tokens(self, spec: DataSpec) -> None:
        self.run_worker(lambda: self._run_preview(spec), thread=True, exclusive=True, exit_on_error=False, group="tokens")

    def _run_preview(self, spec: DataSpec) -> None:
        """Run the preview process and post what it printed; touches no widget."""
        worker = get_current_worker()
        command = [
            sys.executable, "-m", "engine.train.preview",
            "--spec", spec_json(spec),
            "--index", str(self.example.index),
            "--model", DEFAULT_MODEL,
            "--seq-len", str(TrainConfig().seq_len),
        ]  # fmt: skip
        try:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        except OSError as exc:
            self.post_message(TokensPreviewFailed(f"can't start the token preview: {exc}"))
            return
        waited = 0.0
        while True:
            try:
                out, _ = proc.communicate(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                waited += 0.25
                if worker.is_cancelled or waited > PREVIEW_TIMEOUT:
                    proc.kill()
                    proc.communicate()
                    return
        try:
            data = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            self.post_message(TokensPreviewFailed("the token preview process printed nothing"))
            return
        if "error" in data:
            self.post_message(TokensPreviewFailed(str(data["error"])))
            return
        from engine.train.preview import TokenPreview as Preview  # no transformers at import: only the data class

        preview = Preview.from_json(data)
        self.post_message(TokensPreviewed(preview.spans, preview.summary()))

    def on_tokens_previewed(self, message: TokensPreviewed) -> None:
        self.query_one("#tokens-summary", Static).update(message.summary)
        self.query_one(TokenPreview).show_spans(message.spans)

    def on_tokens_preview_failed(self, message: TokensPreviewFailed) -> None:
        summary = self.query_one("#tokens-summary", Static)
        summary.update(Content.styled(escape_controls(message.error), "$text-error"))
