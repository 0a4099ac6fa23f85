"""What training will see of an example: its tokens, after the chat template, with the trained ones marked.

This runs the very ``encode`` training runs, so the preview can't drift
from what is learned. ``python -m engine.train.preview`` prints the preview
of one example as JSON: the TUI runs it in a process of its own, since it
loads transformers, which the TUI process never imports.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Any

from engine.data import DataError, DataSpec, Example, iter_examples
from engine.train.tokenize import IGNORE, TemplateError, encode


@dataclass(frozen=True)
class TokenPreview:
    """An example's tokens as runs of ``(text, trained)``, and the counts the warnings need."""

    spans: tuple[tuple[str, bool], ...]
    tokens: int
    trained: int
    cut: int
    """Tokens past the sequence length: training never sees them."""

    def to_json(self) -> dict[str, object]:
        return {"spans": [list(s) for s in self.spans], "tokens": self.tokens, "trained": self.trained, "cut": self.cut}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenPreview:
        return cls(tuple((str(t), bool(b)) for t, b in data["spans"]), int(data["tokens"]), int(data["trained"]), int(data["cut"]))

    def summary(self) -> str:
        """One line: how much of the example trains."""
        cut = f"; {self.cut:,} past the sequence length are cut" if self.cut else ""
        return f"{self.tokens:,} tokens, {self.trained:,} trained{cut}"


def preview(example: Example, tokenizer: Any, max_len: int) -> TokenPreview:
    """The tokens of ``example`` as training encodes them, cut at ``max_len``, grouped into trained and context runs."""
    whole = encode(example, tokenizer, max_len=10**9)
    kept = encode(example, tokenizer, max_len=max_len) if example.kind != "text" else whole
    ids, labels = kept.input_ids, kept.labels
    spans: list[tuple[str, bool]] = []
    run: list[int] = []
    trained_run = False
    for token, label in zip(ids, labels, strict=True):
        trained = label != IGNORE
        if run and trained != trained_run:
            spans.append((tokenizer.decode(run), trained_run))
            run = []
        run.append(token)
        trained_run = trained
    if run:
        spans.append((tokenizer.decode(run), trained_run))
    return TokenPreview(tuple(spans), len(ids), sum(1 for label in labels if label != IGNORE), max(0, len(whole) - len(ids)) if example.kind != "text" else 0)


def load_tokenizer(model: str, trust_remote_code: bool = False) -> Any:
    """The tokenizer of a model spec (bundled name, folder, cached or hub id), as training loads it."""
    from transformers import AutoTokenizer

    from engine.models.resolve import resolve_model

    resolved = resolve_model(model)
    return AutoTokenizer.from_pretrained(resolved.path, trust_remote_code=trust_remote_code)


def main(argv: list[str] | None = None) -> int:
    """Print the preview of example ``--index`` of a data file as one JSON object (``{"error": ...}`` on failure)."""
    parser = argparse.ArgumentParser(prog="python -m engine.train.preview")
    parser.add_argument("--spec", required=True, help="the DataSpec as JSON: path, format, separator, mapping")
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--seq-len", type=int, required=True)
    args = parser.parse_args(argv)
    try:
        spec = DataSpec(**json.loads(args.spec))
        example = next((e for e in iter_examples(spec) if e.index == args.index), None)
        if example is None:
            raise DataError(spec.path, f"has no example #{args.index}")
        out: dict[str, object] = preview(example, load_tokenizer(args.model), args.seq_len).to_json()
    except (DataError, TemplateError) as exc:
        out = {"error": str(exc)}
    except Exception as exc:  # the TUI shows any failure as one line, never a traceback
        out = {"error": f"can't load the model's tokenizer: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"}
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
