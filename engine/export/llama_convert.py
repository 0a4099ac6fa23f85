"""Run llama.cpp's own Hugging Face to GGUF converter, vendored unmodified in ``llama_cpp/``.

``python -m engine.export.llama_convert MODEL_DIR --outfile F --outtype T``
runs ``llama_cpp/convert_hf_to_gguf.py`` with its own ``conversion`` package
and the ``gguf-py`` it was released with (see ``llama_cpp/PROVENANCE.md``:
the PyPI ``gguf`` of the same version number differs from it).

One thing is added. llama.cpp names a byte-level BPE tokenizer's
pre-tokenizer by hashing how it splits a test string, so a tokenizer it has
never seen (finetui-tiny's, one trained for a test) is refused even when its
pre-tokenizer is exactly GPT-2's. When the hash is unknown and
``tokenizer.json`` says the pre-tokenizer is the plain GPT-2 byte-level
split, this passes "gpt-2"; anything else is still refused. The round-trip
check then compares llama.cpp's tokens with transformers' on the eval split.
"""

from __future__ import annotations

import json
import logging
import runpy
import sys
from pathlib import Path
from typing import Any

VENDORED = Path(__file__).resolve().parent / "llama_cpp"
CONVERTER = VENDORED / "convert_hf_to_gguf.py"
GGUF_PY = VENDORED / "gguf-py"
#: What the converter itself writes without quantizing further.
OUTTYPES = ("f32", "f16", "bf16", "q8_0")


def use_vendored_gguf() -> None:
    """Put the vendored ``gguf`` and ``conversion`` packages first on ``sys.path`` (idempotent)."""
    for path in (str(GGUF_PY), str(VENDORED)):
        if path not in sys.path:
            sys.path.insert(0, path)


def gpt2_byte_level(model_dir: Path) -> bool:
    """Whether ``tokenizer.json`` pre-tokenizes exactly as GPT-2: one ByteLevel step with its regex, no prefix space."""
    try:
        data = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    pre = data.get("pre_tokenizer") or {}
    return (
        data.get("model", {}).get("type") == "BPE"
        and not data.get("normalizer")
        and pre.get("type") == "ByteLevel"
        and pre.get("use_regex", True) is True
        and pre.get("add_prefix_space") is False
    )


def _known_or_gpt2(original: Any) -> Any:
    def get_vocab_base_pre(self: Any, tokenizer: Any) -> str:
        try:
            return original(self, tokenizer)
        except NotImplementedError:
            if not gpt2_byte_level(Path(self.dir_model)):
                raise
            logging.getLogger("finetui").warning("unlisted BPE tokenizer with GPT-2's byte-level pre-tokenizer: using 'gpt-2'")
            return "gpt-2"

    return get_vocab_base_pre


def main(argv: list[str]) -> None:
    use_vendored_gguf()
    from conversion import base

    base.TextModel.get_vocab_base_pre = _known_or_gpt2(base.TextModel.get_vocab_base_pre)
    sys.argv = [str(CONVERTER), *argv]
    runpy.run_path(str(CONVERTER), run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
