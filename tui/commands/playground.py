"""``finetui generate`` and ``finetui likelihood``: the playground from a shell, baseline against custom.

Both run the inference server's own request handler in this process (the same
code path as ``python -m engine.infer.server``), so what they print is what
the TUI's playground shows.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.infer.protocol import Done, Error, GenerateRequest, LikelihoodRequest, Loading, Reply, Scores, Start, Text, Token, Turn
from engine.infer.requests import ALL_MODELS, MIN_TEMPERATURE, default_models
from tui.commands.runview import error
from tui.format import number, shown

G = GenerateRequest
RULE = 60


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "generate",
        help="complete a prompt with the base model and with a run's model, side by side in one batch",
        description=(
            "Generate a completion of PROMPT with the baseline (the base model, adapter off) and the custom "
            "model (the run's adapter on), with the same settings and seed, both in one batch. The first streams "
            "as it comes; the other's text so far follows once the first is done, then streams on. "
            "The prompt is formatted as in training (bos + prompt); for prompt/completion data, give the "
            "prompt as it appears in the data, e.g. --prompt $'Question: ...\\nAnswer:'. A run whose pairs trained as "
            "chats (data.chat_template on) gets the prompt as a user turn, in its chat template. With --chat, the prompt is "
            "the user's message, rendered with the chat template the run trained with (saved with its adapter) and "
            "answered up to the template's end of turn; --show-prompt prints what each model reads. With --versus B, "
            "run A (RUN) and run B, two runs of the same base model, answer side by side instead. "
            "Bad input exits 2 with a one-line error."
        ),
    )
    p.add_argument("run", help="run id, unique id prefix, or name (A, with --versus)")
    p.add_argument("--prompt", "-p", required=True, help="the text to continue; with --chat, the user's message")
    p.add_argument("--chat", action="store_true", help="chat: the prompt is a user turn, rendered with the run's chat template")
    p.add_argument("--system", metavar="S", help="a system prompt before the user's turn (with --chat)")
    p.add_argument("--show-prompt", action="store_true", help="print the prompt as each model reads it (template applied) first")
    p.add_argument("--versus", metavar="B", help="A/B: compare with run B (same base model) instead of the baseline")
    p.add_argument("--max-tokens", "-n", type=int, default=G.max_tokens, help="most new tokens (default: %(default)s)")
    p.add_argument("--temperature", "-t", type=float, default=G.temperature,
                   help=f"0 is greedy, and so is anything below {MIN_TEMPERATURE:g} (default: %(default)s)")
    p.add_argument("--top-k", type=int, default=G.top_k, help="sample among the k likeliest tokens; 0 is off (default: %(default)s)")
    p.add_argument("--top-p", type=float, default=G.top_p, help="nucleus sampling; 1 is off (default: %(default)s)")
    p.add_argument("--seed", type=int, help="seed for sampling, the same for both models (default: a random one, printed)")
    p.add_argument("--stop", action="append", metavar="S", help="end the generation at S, which is left out (repeatable)")
    p.add_argument("--only", choices=ALL_MODELS, help="generate with one model only (versus: run B)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object, once done")
    p.set_defaults(func=generate)

    p = subparsers.add_parser(
        "likelihood",
        help="average log-likelihood and perplexity of a text, baseline against custom",
        description=(
            "Score a text with the baseline and the custom model: the mean log-probability per token "
            "(higher is better) and the perplexity. With --prompt, the prompt is context and only the text "
            "is scored, as prompt/completion training scores completions. Bad input exits 2."
        ),
    )
    p.add_argument("run", help="run id, unique id prefix, or name")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", metavar="T", help="the text to score")
    source.add_argument("--file", "-f", metavar="F", type=Path, help="read the text to score from a UTF-8 file")
    p.add_argument("--prompt", "-p", metavar="P", help="context before the text; not scored")
    p.add_argument("--versus", metavar="B", help="A/B: score with run B (same base model) instead of the baseline")
    p.add_argument("--tokens", action="store_true", help="also list each token with its log-prob and rank under both models")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.set_defaults(func=likelihood)


class _Handler:
    """Runs requests through the server's handler in this process; library output goes to stderr."""

    def __init__(self, command: str) -> None:
        from engine.infer.server import Server, quiet_libraries

        quiet_libraries(warnings=False)
        self.command = command
        self.server = Server()
        self.out = sys.stdout

    def __call__(self, request: GenerateRequest | LikelihoodRequest, on_reply: Callable[[Reply], None]) -> Reply | None:
        """Handle ``request`` (checked by the server, as a line would be); returns its last reply (``End`` or ``Error``)."""
        last: Reply | None = None

        def emit(reply: Reply) -> None:
            nonlocal last
            last = reply
            if isinstance(reply, Loading) and sys.stderr.isatty():
                print(f"loading {reply.what}…", file=sys.stderr, flush=True)
            on_reply(reply)

        with contextlib.redirect_stdout(sys.stderr):
            self.server.handle(request.to_json(1), emit)
        return last

    def fail(self, reply: Error) -> int:
        """Say the error in the CLI's terms: a request key the message starts with becomes its flag."""
        message = reply.message
        if reply.field and message.startswith(reply.field):
            message = "--" + reply.field.replace("_", "-") + message[len(reply.field) :]
        error(self.command, message)
        return 1 if reply.code == "internal" else 2

    def describe_base(self) -> str:
        base = self.server.session.base
        return base.describe() if base else "?"


def generate(args: argparse.Namespace) -> int:
    if args.system is not None and not args.chat:
        return error("generate", "--system needs --chat (a system prompt is a chat turn)")
    handler = _Handler("generate")
    turns = ((Turn("system", args.system),) if args.system else ()) + (Turn("user", args.prompt),) if args.chat else ()
    request = GenerateRequest(
        prompt="" if args.chat else args.prompt,
        run=args.run,
        versus=args.versus,
        messages=turns,
        models=(args.only,) if args.only else default_models(args.run, args.versus),
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        stop=tuple(args.stop or ()),
    )
    done: dict[str, Done] = {}
    out = handler.out
    # Both models generate in one batch, their tokens interleaved; a terminal shows one at a time: the
    # first streams live, the other's text waits and is printed, then streams on, once the first is done.
    held: dict[str, list[Start | Token | Done]] = {}
    live: list[str] = []
    prompts: dict[str, str | None] = {}
    names = {"custom": "A", "versus": "B"} if args.versus else {}

    def write(reply: Start | Token | Done) -> None:
        if isinstance(reply, Start):
            if args.show_prompt and reply.prompt not in prompts.values():
                # Escaped: the prompt holds the user's text and the system prompt in the run's chat template.
                out.write(_rule(f"prompt · as {names.get(reply.model, reply.model)} reads it") + shown(f"{reply.prompt}") + "\n")
            prompts[reply.model] = reply.prompt
            who = handler.describe_base() if reply.model == "baseline" else f"run {reply.run}"
            out.write(_rule(f"{names.get(reply.model, reply.model)} · {who}"))
        elif isinstance(reply, Token):
            out.write(shown(reply.text))  # a model's text may hold control characters too
        else:
            rate = f" · {reply.tokens_per_s:.1f} tokens/s" if reply.tokens_per_s else ""
            out.write(f"\n({reply.tokens} tokens{rate} · {_reason(reply)} · seed {reply.seed})\n\n")

    def show(reply: Reply) -> None:
        if isinstance(reply, Done):
            done[reply.model] = reply
        if args.json or not isinstance(reply, Start | Token | Done):
            return
        model = reply.model
        if not live:
            live.append(model)
        if model != live[0]:
            held.setdefault(model, []).append(reply)
            return
        write(reply)
        if isinstance(reply, Done):
            live.clear()
            for waiting, events in list(held.items()):
                del held[waiting]
                for e in events:
                    write(e)
                if waiting not in done:
                    live.append(waiting)
                    break
        out.flush()

    last = handler(request, show)
    if isinstance(last, Error):
        return handler.fail(last)
    if args.json:
        keep = ("text", "tokens", "finish_reason", "stop", "seed", "seconds", "tokens_per_s", "time_to_first_token_s")
        result = {
            "run": (done["custom"].run if "custom" in done else None) or args.run,
            "base_model": handler.describe_base(),
            "prompt": args.prompt,
            **{model: {k: reply.to_json()[k] for k in keep} for model, reply in done.items()},
        }
        if args.show_prompt:
            for model in done:
                result[model]["prompt"] = prompts.get(model)
        print(json.dumps(result, indent=2, ensure_ascii=False), file=out)
    return 0


def _rule(title: str) -> str:
    head = f"── {title} "
    return head + "─" * max(0, RULE - len(head)) + "\n"


def _reason(done: Done) -> str:
    reason = done.finish_reason
    return {
        "eos": "ended (end of sequence)",
        "stop": f"stopped at {done.stop!r}",
        "length": "max tokens reached",
        "context": "context full",
        "cancelled": "cancelled",
    }.get(reason, reason)


def likelihood(args: argparse.Namespace) -> int:
    if args.file is not None:
        try:
            text = args.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return error("likelihood", f"cannot read {args.file}: {exc}")
    else:
        text = args.text
    handler = _Handler("likelihood")
    scores: dict[str, Scores] = {}

    def keep(reply: Reply) -> None:
        if isinstance(reply, Scores):
            scores[reply.model] = reply

    request = LikelihoodRequest(texts=(Text(text, args.prompt),), run=args.run, models=default_models(args.run, args.versus), versus=args.versus)
    last = handler(request, keep)
    if isinstance(last, Error):
        return handler.fail(last)
    out = handler.out
    if args.json:
        result: dict[str, Any] = {"run": (scores["custom"].run if "custom" in scores else None) or args.run, "base_model": handler.describe_base()}
        for model, reply in scores.items():
            result[model] = reply.averages.to_json()
            if args.tokens:
                result[model]["tokens"] = [t.to_json() for t in reply.texts[0].tokens]
        print(json.dumps(result, indent=2, ensure_ascii=False), file=out)
        return 0
    print(format_scores(scores, handler.describe_base(), scored_prompt=args.prompt is not None), file=out)
    if args.tokens:
        print(file=out)
        print(format_tokens(scores), file=out)
    return 0


def format_scores(scores: dict[str, Scores], base: str, scored_prompt: bool = False) -> str:
    """The hosted platforms' table: average log-likelihood and perplexity, baseline and custom."""
    first = next(iter(scores.values()))
    what = "the text after the prompt" if scored_prompt else "the text"
    lines = [
        f"{first.scored_tokens} tokens of {what} scored · base {base}" + (f" · run {scores['custom'].run}" if "custom" in scores else ""),
        f"{'model':<10} {'avg log-likelihood':>19} {'perplexity':>12}",
    ]
    for model, reply in scores.items():
        lines.append(f"{model:<10} {number(reply.avg_logprob, '.3f'):>19} {number(reply.perplexity, ',.2f'):>12}")
    if "baseline" in scores and "custom" in scores:
        b, c = scores["baseline"].avg_logprob, scores["custom"].avg_logprob
        if b is not None and c is not None:
            lines.append(f"{'change':<10} {c - b:>+19.3f}   ({'custom higher: fits the text better' if c > b else 'custom not higher'})")
    return "\n".join(lines)


def format_tokens(scores: dict[str, Scores]) -> str:
    """One line per scored token: its text, then log-prob and rank under each model (rank 1: the top choice)."""
    models = list(scores)
    columns = "".join(f"  {m + ' log-prob':>18} {'rank':>6}" for m in models)
    lines = [f"{'#':>4}  {'token':<16}{columns}"]
    per_model = [scores[m].texts[0].tokens for m in models]
    for i, row in enumerate(zip(*per_model, strict=True), start=1):
        shown = json.dumps(row[0].text, ensure_ascii=False)[1:-1]
        cells = "".join(f"  {number(t.logprob, '.3f'):>18} {t.rank:>6}" for t in row)
        lines.append(f"{i:>4}  {shown[:16]:<16}{cells}")
    return "\n".join(lines)
