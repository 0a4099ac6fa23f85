"""Token previews from a process that stays: ``python -m engine.token_previews``, one JSON request a line on stdin.

``python -m engine.train.preview`` answers one example and exits: every
example the preview opened paid for a Python start, the transformers import
and the tokenizer load again (7-11 s an example on 2 busy cores). This
process pays them once: it loads ``--warm``'s tokenizer as it starts, keeps
each tokenizer it loads, and answers each request (``{"spec": ...,
"index": ..., "model": ..., "seq_len": ...}``) with one line of the same JSON
as ``engine.train.preview`` prints. It ends when its stdin closes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from engine.data import DataError, DataSpec, iter_examples
from engine.train.preview import load_tokenizer, preview
from engine.train.tokenize import TemplateError


class Previews:
    """Answers preview requests with the tokenizers loaded so far, by model spec."""

    def __init__(self) -> None:
        self.tokenizers: dict[str, Any] = {}

    def tokenizer(self, model: str) -> Any:
        if model not in self.tokenizers:
            self.tokenizers[model] = load_tokenizer(model)
        return self.tokenizers[model]

    def answer(self, request: dict[str, Any]) -> dict[str, object]:
        """The preview of one example as JSON, or ``{"error": ...}`` in one line: never an exception."""
        try:
            spec = DataSpec(**request["spec"])
            index = int(request["index"])
            example = next((e for e in iter_examples(spec) if e.index == index), None)
            if example is None:
                raise DataError(spec.path, f"has no example #{index}")
            return preview(example, self.tokenizer(str(request["model"])), int(request["seq_len"])).to_json()
        except (DataError, TemplateError) as exc:
            return {"error": str(exc)}
        except Exception as exc:  # the TUI shows any failure as one line, never a traceback
            return {"error": f"can't load the model's tokenizer: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"}


def serve(lines: Iterable[str], out: TextIO, warm: str | None = None) -> None:
    """Answer each request line with one line, flushed at once; a line that is no JSON object is answered with an error."""
    previews = Previews()
    if warm:
        try:
            previews.tokenizer(warm)
        except Exception:  # noqa: BLE001 - said again, in one line, by the first request for this model
            pass
    for line in lines:
        try:
            request = json.loads(line)
            answer = previews.answer(request) if isinstance(request, dict) else {"error": "a preview request must be a JSON object"}
        except ValueError as exc:
            answer = {"error": f"a preview request that is not JSON: {exc}"}
        out.write(json.dumps(answer, ensure_ascii=False) + "\n")
        out.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.token_previews")
    parser.add_argument("--warm", help="a model whose tokenizer to load at once, before the first request")
    args = parser.parse_args(argv)
    serve(sys.stdin, sys.stdout, args.warm)
    return 0


if __name__ == "__main__":
    sys.exit(main())
