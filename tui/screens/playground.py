"""The playground: try a ready run against its base model, side by side (F4).

Two tabs. **Generate** continues a prompt with the baseline (the base model,
adapter off) and the custom model (the run's adapter on), with the same
sampling settings and seed, in one batch: both panes stream together. **Likelihood** scores a pasted
text under both and colours each token by how sure each model was of it.

**vs** picks what the run is compared with: the baseline, or run B, another
ready run of the same base model (A/B: both adapters in one batch; the left
pane is A, the right B). **Chat** turns the prompt into a chat: a system
prompt and turns, rendered with the chat template the run trained with,
each model going on from its own answers, each answer ending at the
template's end of turn; Ctrl+O shows the prompt as each model read it.

All model work happens in one inference process (``engine.infer``), started
on first use and kept while the screen lives, so only the first request
waits for the model to load. Workers block on it in threads and report
through ``tui.widgets.playground_messages``; only handlers touch widgets.
Requests and replies are ``engine.infer.protocol`` objects: the screen
sends a ``GenerateRequest`` or ``LikelihoodRequest`` and reads the replies'
attributes (``Start``, ``Token``, ``Done``, ``Scores``, ``Error``...).
"""

from __future__ import annotations

import time
from pathlib import Path
from time import monotonic

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Header, Input, Label, Select, Static, TabbedContent, TabPane, TextArea

from engine.infer import MODELS, InferenceClient, InferenceError
from engine.infer.protocol import (
    Done,
    Error,
    GenerateRequest,
    LikelihoodRequest,
    Loaded,
    Loading,
    LoadRequest,
    ModelInfo,
    Request,
    Scores,
    Start,
    Text,
    Token,
    Turn,
)
from engine.infer.requests import VERSUS
from tui.format import likelihood_note, shown
from tui.playground_client import ClientKeeper
from tui.run_feed import RunsSnapshot
from tui.screens.base import FinetuiScreen, screen_css
from tui.screens.dialogs import ErrorScreen
from tui.widgets.footer import KeysFooter
from tui.widgets.playground_messages import (
    ClientStarted,
    InferenceStatus,
    RequestEnded,
    RequestSent,
    RunsListed,
    ScoresReady,
    ServerDied,
    StreamDone,
    StreamStarted,
    StreamText,
)
from tui.widgets.playground_output import OutputPanel
from tui.widgets.playground_params import SamplingForm
from tui.widgets.playground_runs import BASELINE, RunPicker, VersusPicker, ready_runs, short_model
from tui.widgets.playground_scores import format_scores
from tui.widgets.token_view import TokenView, legend, visible

#: Seconds between two updates of a streaming panel, at most.
STREAM_EVERY = 0.03
NO_RUNS = (
    "No run is ready yet. The playground tries a run once its training has finished and it shows as Ready: "
    "F3 lists the runs and their progress, F2 starts a new one from a data file."
)
PROMPT_HINT = "Prompt. For prompt/completion data, write it as in the data, e.g. Question: …⏎Answer:"
SAMPLING_HINT = "temp 0 is greedy; an empty seed draws one (shown when done). Ctrl+G generates."
SCORE_HINT = "Paste a text and press Ctrl+R: average log-likelihood and perplexity under both models."
#: Error codes a notification covers: the user's own input, or the user's own Stop; the others get a dialog.
NOTICE_ERRORS = ("bad_request", "too_long", "cancelled")
FAILURE_TITLES = {"generate": "Generation failed", "likelihood": "Scoring failed", "load": "Could not load the run"}


class PlaygroundScreen(FinetuiScreen):
    """Baseline and custom side by side: generations and likelihoods of one picked run."""

    DEFAULT_CSS = screen_css("playground.tcss")
    SCOPED_CSS = False
    AUTO_FOCUS = "#run"
    BINDINGS = [
        Binding("ctrl+g", "generate", "Generate", tooltip="Continue the prompt with both models", id="generate"),
        Binding("ctrl+r", "score", "Score", tooltip="Score the text under both models", id="score"),
        Binding("escape", "stop", "Stop", tooltip="Stop the running request", id="stop"),
        Binding("ctrl+o", "show_prompt", "Prompt", tooltip="Show the last prompt as each model read it (its chat template applied)", id="show-prompt"),
        Binding("ctrl+n", "new_chat", "New chat", tooltip="Forget the chat's turns and start again", id="new-chat"),
        Binding("ctrl+s", "save_chat", "Save", tooltip="Save the chat as Markdown in the current folder: chat-<run>-<time>.md", id="save-chat"),
        Binding("ctrl+t", "copy_chat", "Copy", tooltip="Copy the chat as Markdown to the clipboard (where the terminal allows it)", id="copy-chat"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.keeper = ClientKeeper()
        self.busy: str | None = None
        """The kind of request running (generate or likelihood), None when idle."""
        self.request_id: str | None = None
        """The running request's id, once sent: Stop cancels it."""
        self.loaded_run: str | None = None
        """The run whose adapter was last loaded, so picking it again loads nothing."""
        self.wanted_run: str | None = None
        """A run to pick once the list is read (``select_run`` before the screen has its runs)."""
        self.model_text = ""
        """The loaded base model, device and quantization, for the status line."""
        self.chat: list[Turn] = []
        """The chat so far (chat mode): the user's turns and each model's answers."""
        self.asked = ""
        """The user's message being answered (chat mode), added to ``chat`` once both answers are in."""
        self.prompts: dict[str, str | None] = {}
        """What each model read in the last generation, for Ctrl+O."""
        self.compared_with: str | None = None
        """Run B's id while the picked run is compared with it (A/B), None for the baseline."""
        self.panel_of: dict[str, str] = {m: m for m in MODELS}
        """Which pane shows which model: baseline | custom, or A (custom) | B (versus)."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="run-row"):
            yield Label("Run", id="run-label")
            yield RunPicker(id="run")
            yield Static("pick a run to load its model", id="inference-status", markup=False)
        with Horizontal(id="mode-row"):
            yield Label("vs", id="versus-label")
            yield VersusPicker(id="versus")
            yield Checkbox("Chat", id="chat", compact=True, tooltip="A chat in the run's chat template: system prompt, turns, answers ending at end of turn")
            yield Input(placeholder="system prompt (chat)", id="system", compact=True)
        yield Static(NO_RUNS, id="no-runs", markup=False)
        with TabbedContent(id="tabs"):
            with TabPane("Generate", id="generate"):
                prompt = TextArea(id="prompt", classes="panel", placeholder=PROMPT_HINT)
                prompt.border_title = "Prompt"
                yield prompt
                yield SamplingForm(SAMPLING_HINT, id="sampling")
                with Horizontal(id="outputs"):
                    yield OutputPanel("baseline", id="baseline")
                    yield OutputPanel("custom", id="custom")
            with TabPane("Likelihood", id="likelihood"):
                with Horizontal(id="score-inputs"):
                    context = TextArea(id="context", classes="panel", placeholder="e.g. Question: …⏎Answer:")
                    context.border_title = "Context (not scored)"
                    yield context
                    text = TextArea(id="score-text", classes="panel", placeholder="The text to score")
                    text.border_title = "Text to score"
                    yield text
                yield Static(SCORE_HINT, id="scores", markup=False)
                yield Static(legend(), id="legend")
                with Horizontal(id="token-views"):
                    for model in MODELS:
                        with VerticalScroll(id=f"{model}-tokens-panel", classes="panel") as panel:
                            panel.border_title = model
                            yield TokenView(id=f"{model}-tokens")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.app.run_watcher.signal.subscribe(self, self._runs_watched)
        for panel in self.query(OutputPanel):
            panel.wait("Pick a run, write a prompt, press Ctrl+G.")

    def on_unmount(self) -> None:
        """The app is closing: end the inference process with it."""
        self.keeper.close()

    def on_screen_resume(self) -> None:
        self.refresh_runs()

    def _runs_watched(self, snapshot: RunsSnapshot) -> None:
        self.post_message(RunsListed(ready_runs(snapshot)))

    # -- runs --------------------------------------------------------------------------------

    def select_run(self, run_id: str) -> None:
        """Pick ``run_id`` (from the runs dashboard); it loads at once."""
        self.wanted_run = run_id
        if self.is_mounted:
            self.refresh_runs()

    def refresh_runs(self) -> None:
        """List the ready runs of the app's latest run snapshot (its run watcher reads the files)."""
        snapshot = self.app.run_watcher.snapshot
        if snapshot is not None:
            self._runs_watched(snapshot)

    def on_runs_listed(self, message: RunsListed) -> None:
        picker = self.query_one(RunPicker)
        wanted, self.wanted_run = self.wanted_run, None
        picker.set_runs(message.runs, pick=wanted)
        self.query_one(VersusPicker).set_runs(message.runs, a=picker.value if isinstance(picker.value, str) else None)
        if wanted is not None and all(run.id != wanted for run in message.runs):
            self.notify(f"Run {wanted} is not ready yet: only a finished run can be tried.", severity="warning")
        self.query_one("#no-runs").display = not message.runs
        self.query_one("#tabs").display = bool(message.runs)

    @on(Select.Changed, "#run")
    def run_picked(self, event: Select.Changed) -> None:
        run = event.value if isinstance(event.value, str) else None
        choice = next((c for c in self.query_one(RunPicker).choices if c.id == run), None)
        if choice is None:
            return
        self.query_one(VersusPicker).set_runs(self.query_one(RunPicker).choices, a=choice.id)
        self._check_versus()
        self._title_panels()
        if run != self.loaded_run:
            self.loaded_run = run
            self.load_run(choice.id)

    @on(Select.Changed, "#versus")
    def versus_picked(self) -> None:
        self._check_versus()
        self._title_panels()
        if self.versus_run() != self.compared_with:  # not a mere relisting of the runs
            self.compared_with = self.versus_run()
            self._forget_chat()

    def _check_versus(self) -> None:
        """Run B must share run A's base model; another is refused at once, back to the baseline."""
        a = next((c for c in self.query_one(RunPicker).choices if c.id == self.query_one(RunPicker).value), None)
        versus = self.query_one(VersusPicker)
        b = versus.chosen()
        if a is None or b is None:
            return
        if b.base != a.base:  # run A itself is never listed as B (``VersusPicker.set_runs``)
            self.notify(f"A/B compares two runs of the same base model: run B was trained on {b.model}, run A on {a.model}.", severity="error")
            versus.value = BASELINE

    def _title_panels(self) -> None:
        a = next((c for c in self.query_one(RunPicker).choices if c.id == self.query_one(RunPicker).value), None)
        if a is None:
            return
        b = self.query_one(VersusPicker).chosen()
        left, right = self.query_one("#baseline", OutputPanel), self.query_one("#custom", OutputPanel)
        titles = (f"baseline · {a.model}", f"custom · {a.name}") if b is None else (f"A · {a.name}", f"B · {b.name}")
        left.border_title, right.border_title = (Content(shown(title)) for title in titles)  # Content: a run's name is not markup

    def versus_run(self) -> str | None:
        """Run B's id when one is picked (A/B), else None (the baseline)."""
        b = self.query_one(VersusPicker).chosen()
        return b.id if b is not None else None

    def compared(self) -> tuple[str, ...]:
        """The models side by side: baseline and custom, or A (custom) and B (versus)."""
        return ("custom", VERSUS) if self.versus_run() else MODELS

    @on(Checkbox.Changed, "#chat")
    def chat_toggled(self) -> None:
        self._forget_chat()
        self.refresh_bindings()

    def picked_run(self) -> str | None:
        value = self.query_one(RunPicker).value
        if not isinstance(value, str):
            self.notify("Pick a ready run first.", severity="warning")
            return None
        return value

    # -- actions -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Generate on its tab, Score on its tab, Stop while a request runs."""
        if action in ("generate", "score"):
            tabs = self.query(TabbedContent)
            active = tabs.first().active if tabs else "generate"
            return active == ("generate" if action == "generate" else "likelihood")
        if action == "stop":
            return self.busy is not None
        if action == "new_chat":
            return self.query_one("#chat", Checkbox).value if self.query("#chat") else False
        if action in ("save_chat", "copy_chat"):  # in chat mode; greyed until the chat has a turn
            return (True if self.chat else None) if self.query("#chat") and self.query_one("#chat", Checkbox).value else False
        return True

    @on(TabbedContent.TabActivated)
    def tab_changed(self) -> None:
        self.refresh_bindings()

    def action_generate(self) -> None:
        run = self.picked_run()
        settings = self.query_one(SamplingForm).settings()
        if run is None or settings is None or not self._idle():
            return
        prompt = self.query_one("#prompt", TextArea).text
        if not prompt.strip():
            self.notify("Write a prompt first." if not self._chatting() else "Write a message first.", severity="warning")
            return
        models = self.compared()
        self.panel_of = dict(zip(models, ("baseline", "custom"), strict=True))
        for panel in self.query(OutputPanel):
            if self._chatting():
                panel.ask(prompt)  # the message shows at once, above the answers to come
            else:
                panel.wait("waiting for the model…")
        if self._chatting():
            self.asked = prompt
            self.query_one("#prompt", TextArea).text = ""  # sent: back in the box if the request fails
            system = self.query_one("#system", Input).value.strip()
            turns = ((Turn("system", system),) if system else ()) + (*self.chat, Turn("user", prompt))
            request = GenerateRequest(run=run, versus=self.versus_run(), messages=turns, models=models, **settings)
        else:
            request = GenerateRequest(prompt=prompt, run=run, versus=self.versus_run(), models=models, **settings)
        self._start_request(request)

    def _chatting(self) -> bool:
        return self.query_one("#chat", Checkbox).value

    def action_new_chat(self) -> None:
        if self._idle():
            self._forget_chat()

    def _forget_chat(self) -> None:
        self.chat = []
        self.asked = ""
        for panel in self.query(OutputPanel):
            panel.forget("Pick a run, write a prompt, press Ctrl+G." if not self._chatting() else "A new chat: write a message, press Ctrl+G.")

    def _chat_answered(self) -> None:
        """Both answers are in: the exchange joins the chat, each pane showing it as its model saw it."""
        panels = {model: self.query_one(f"#{pane}", OutputPanel) for model, pane in self.panel_of.items()}
        answers = {model: panel.done.text for model, panel in panels.items() if panel.done is not None}
        if len(answers) != len(panels):
            return
        self.chat += [Turn("user", self.asked), Turn("assistant", "", tuple(sorted(answers.items())))]
        for panel in panels.values():
            panel.answered()
        self.asked = ""
        self.refresh_bindings()  # Save and Copy: the chat has a turn now

    def transcript(self) -> str:
        """The chat as Markdown: the run, the system prompt, then each message and each model's answer, under its pane's title."""
        run = next((c for c in self.query_one(RunPicker).choices if c.id == self.query_one(RunPicker).value), None)
        lines = [f"# Chat with {run.name} ({run.id})" if run is not None else "# Chat", ""]
        system = self.query_one("#system", Input).value.strip()
        if system:
            lines += [f"**System:** {system}", ""]
        for turn in self.chat:
            if turn.role == "user":
                lines += [f"**You:** {turn.content}", ""]
            else:
                lines += [f"**{self._pane(model).border_title}:** {answer}" for model, answer in turn.replies] + [""]
        return "\n".join(lines)

    def action_save_chat(self) -> None:
        """Save the chat under the current folder as ``chat-<run>-<time>.md``, and say where."""
        path = Path.cwd() / f"chat-{self.query_one(RunPicker).value}-{time.strftime('%Y%m%d-%H%M%S')}.md"
        try:
            path.write_text(self.transcript(), encoding="utf-8")
        except OSError as error:
            self.notify(f"Could not save the chat to {path}: {error.strerror or error}", severity="error")
            return
        self.notify(f"Chat saved to {path}", title="Saved")

    def action_copy_chat(self) -> None:
        self.app.copy_to_clipboard(self.transcript())
        self.notify("Chat copied as Markdown, where the terminal lets apps set the clipboard; Ctrl+S saves it to a file.", title="Copied")

    def _chat_unsent(self, note: str) -> None:
        """The message got no answer (stopped, failed): it leaves the chat and goes back in the box to send again."""
        for panel in self.query(OutputPanel):
            panel.asked = None
            panel.wait(note)
        prompt = self.query_one("#prompt", TextArea)
        if not prompt.text:
            prompt.text = self.asked
        self.asked = ""

    def action_show_prompt(self) -> None:
        if not self.prompts:
            self.notify("Generate first: the prompt shows as each model read it.", severity="warning")
            return
        self.app.push_screen(PromptScreen(self.prompts))

    def action_score(self) -> None:
        run = self.picked_run()
        if run is None or not self._idle():
            return
        text = self.query_one("#score-text", TextArea).text
        if not text.strip():
            self.notify("Paste a text to score first.", severity="warning")
            return
        context = self.query_one("#context", TextArea).text
        self.query_one("#scores", Static).update("Scoring…")
        models = self.compared()
        self.panel_of = dict(zip(models, ("baseline", "custom"), strict=True))
        self._start_request(LikelihoodRequest(texts=(Text(text, context or None),), run=run, models=models, versus=self.versus_run()))

    def action_stop(self) -> None:
        if self.request_id is not None:
            self.cancel_request(self.request_id)

    def _idle(self) -> bool:
        if self.busy is not None:
            self.notify("A request is running: wait for it, or press Esc to stop it.", severity="warning")
        return self.busy is None

    def _start_request(self, request: GenerateRequest | LikelihoodRequest) -> None:
        self.busy = request.KIND
        self.request_id = None
        self.refresh_bindings()
        self.run_request(request)

    # -- workers: they block on the inference process and only post messages ------------------

    def _client(self, kind: str) -> InferenceClient | None:
        """The live client, started if needed; None after posting why it could not start."""
        try:
            return self.keeper.get(
                on_start=lambda: self.post_message(InferenceStatus("starting the inference process…", busy=True)),
                on_ready=lambda client: self.post_message(ClientStarted(client)),
            )
        except InferenceError as error:
            self.post_message(RequestEnded(kind, "start", str(error)))
            return None

    @work(thread=True, exit_on_error=False, group="load")
    def load_run(self, run_id: str) -> None:
        """Load the run's base model and adapter now, so the first request does not wait for them."""
        client = self._client("load")
        if client is not None:
            self._follow(client, LoadRequest(run_id, replace=True))

    @work(thread=True, exit_on_error=False, group="request")
    def run_request(self, request: GenerateRequest | LikelihoodRequest) -> None:
        """Send one generate or likelihood request and stream its replies to the screen."""
        client = self._client(request.KIND)
        if client is not None:
            self._follow(client, request)

    @work(thread=True, exit_on_error=False, group="cancel")
    def cancel_request(self, rid: str) -> None:
        client = self.keeper.current()
        if client is not None:
            try:
                client.cancel(rid)
            except InferenceError:
                pass  # the process is gone: its watcher says so

    @work(thread=True, exit_on_error=False, group="watch")
    def watch_client(self, client: InferenceClient) -> None:
        """Wait for the process to end (its id-less events end then) and report it."""
        try:
            while True:
                for _ in client.events(None):
                    pass
        except InferenceError as error:
            self.post_message(ServerDied(client, str(error)))

    def _follow(self, client: InferenceClient, request: Request) -> None:
        """Send a request and turn its replies into messages, text paced."""
        kind = request.KIND
        texts: dict[str, str] = {}
        scores: dict[str, Scores] = {}
        posted: dict[str, float] = {}  # when each model's text was last posted: both stream at once, each paced on its own
        try:
            rid = client.send(request)
            self.post_message(RequestSent(kind, rid))
            for reply in client.events(rid):
                if isinstance(reply, Loading):
                    self.post_message(InferenceStatus(f"loading {_short_what(reply.what)}…", busy=True))
                elif isinstance(reply, Loaded):
                    self.post_message(InferenceStatus(_describe_model(reply.info)))
                elif isinstance(reply, Start):
                    texts[reply.model] = ""
                    posted[reply.model] = monotonic()
                    self.post_message(StreamStarted(reply.model, reply.prompt))
                elif isinstance(reply, Token):
                    texts[reply.model] += reply.text
                    if monotonic() - posted[reply.model] >= STREAM_EVERY:
                        posted[reply.model] = monotonic()
                        self.post_message(StreamText(reply.model, texts[reply.model]))
                elif isinstance(reply, Done):
                    self.post_message(StreamDone(reply))
                elif isinstance(reply, Scores):
                    scores[reply.model] = reply
                elif isinstance(reply, Error):
                    self.post_message(RequestEnded(kind, reply.code, reply.message))
                    return
        except InferenceError as error:
            self.post_message(ServerDied(client, str(error)))
            self.post_message(RequestEnded(kind, "exited", str(error)))
            return
        if scores:
            self.post_message(ScoresReady(scores))
        self.post_message(RequestEnded(kind))

    # -- handlers: the only code that touches widgets ----------------------------------------

    def on_inference_status(self, message: InferenceStatus) -> None:
        if not message.busy:
            self.model_text = message.text
        self._set_status(message.text, message.busy)

    def _set_status(self, text: str, busy: bool = False) -> None:
        status = self.query_one("#inference-status", Static)
        status.update(text)
        status.set_class(busy, "-busy")

    def on_client_started(self, message: ClientStarted) -> None:
        self.watch_client(message.client)

    def on_server_died(self, message: ServerDied) -> None:
        if not self.keeper.drop(message.client):
            return  # already reported, or the screen is closing
        self.loaded_run = None
        self.model_text = ""
        self._set_status("inference process stopped")
        self.app.push_screen(
            ErrorScreen("The inference process stopped", f"{message.reason}\n\nThe next request starts a new one.")
        )

    def on_request_sent(self, message: RequestSent) -> None:
        if message.kind == self.busy:
            self.request_id = message.rid

    def _pane(self, model: str) -> OutputPanel:
        return self.query_one(f"#{self.panel_of.get(model, model)}", OutputPanel)

    def on_stream_started(self, message: StreamStarted) -> None:
        self._status_ready()
        if len(self.prompts) >= len(self.panel_of) or message.model in self.prompts:
            self.prompts = {}
        self.prompts[message.model] = message.prompt
        self._pane(message.model).stream("")

    def on_stream_text(self, message: StreamText) -> None:
        self._pane(message.model).stream(message.text)

    def on_stream_done(self, message: StreamDone) -> None:
        self._pane(message.done.model).finish(message.done)

    def on_scores_ready(self, message: ScoresReady) -> None:
        self._status_ready()
        scores = format_scores(message.scores)
        note = likelihood_note(self.query_one("#score-text", TextArea).text, message.scores)
        self.query_one("#scores", Static).update(scores if note is None else Content.assemble(scores, "\n", (note, "$text-warning")))
        for model, reply in message.scores.items():
            self.query_one(f"#{self.panel_of.get(model, model)}-tokens", TokenView).show(reply.texts[0].tokens)

    def on_request_ended(self, message: RequestEnded) -> None:
        if message.kind == self.busy:
            self.busy = None
            self.request_id = None
            self.refresh_bindings()
        failed = message.code not in (None, "cancelled")
        if message.kind == "generate" and message.code is None and self.asked:
            self._chat_answered()
        elif message.kind == "generate" and self.asked:
            self._chat_unsent("failed: see the message" if failed else "stopped")
        if message.kind == "generate":
            for panel in self.query(OutputPanel):
                if panel.done is None:  # a request that failed before it started
                    panel.wait("failed: see the message" if failed else "stopped")
        elif message.kind == "likelihood" and message.code is not None:
            self.query_one("#scores", Static).update("Scoring failed." if failed else "Stopped.")
        elif message.kind == "load" and failed:
            self.loaded_run = None
        if message.code is None:
            return
        self._status_ready()
        if message.code == "exited":
            return  # the process died: on_server_died says so
        if message.code == "start":
            self._set_status("inference process stopped")
            self.app.push_screen(ErrorScreen("The inference process could not start", message.error or ""))
        elif message.code in NOTICE_ERRORS:
            self.notify(message.error or message.code, severity="error" if failed else "warning")
        else:
            if message.kind == "load":
                self._set_status("could not load the run")
            self.app.push_screen(ErrorScreen(FAILURE_TITLES[message.kind], message.error or message.code))

    def _status_ready(self) -> None:
        """A request that loaded a model on the way ends its "loading…" line."""
        if self.query_one("#inference-status").has_class("-busy"):
            self._set_status(self.model_text or "ready")


def _short_what(what: str) -> str:
    """A ``loading`` event's subject, with a model folder shortened to its name."""
    name, paren, rest = what.partition(" (")
    return short_model(name) + paren + rest


def _describe_model(info: ModelInfo) -> str:
    """The status line once a run is loaded: base model, quantization, device."""
    return f"ready · {short_model(info.model or '?')} ({info.quant}) · {info.device}"


class PromptScreen(ModalScreen[None]):
    """The last prompt as each model read it: the chat template applied, special tokens and all."""

    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical { width: 76; height: 20; border: round $accent; padding: 0 1; background: $surface; }
    PromptScreen VerticalScroll { height: 1fr; }
    PromptScreen .prompt-title { color: $text-muted; text-style: bold; }
    PromptScreen Button { width: 100%; }
    """
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, prompts: dict[str, str | None]) -> None:
        super().__init__()
        self.prompts = prompts

    def compose(self) -> ComposeResult:
        shown = list(dict.fromkeys(self.prompts.values()))
        with Vertical():
            with VerticalScroll():
                for text in shown:
                    models = [m for m, p in self.prompts.items() if p == text]
                    title = "what " + " and ".join(models) + " read" if len(shown) > 1 else "what both models read"
                    yield Static(title, classes="prompt-title", markup=False)
                    yield Static(visible(text or ""), markup=False)
            yield Button("Close", id="close", compact=True)

    def on_button_pressed(self) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
