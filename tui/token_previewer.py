"""The preview screen's token preview process (``python -m engine.token_previews``), started once and kept.

The example dialog showed an example's tokens 7-11 s after it opened: each
opening started ``python -m engine.train.preview``, which imported
transformers and loaded the tokenizer again. This keeps one process per
preview screen, started (and its tokenizer loaded) when the file has been
read, so an example's tokens take a request and a reply. Thread-safe: the
dialog's workers call ``preview``, one request at a time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Any

from engine.config import DEFAULT_MODEL


class TokenPreviewer:
    """One ``engine.token_previews`` process, started on first need and ended by ``close``; a dead one is replaced."""

    def __init__(self, warm: str = DEFAULT_MODEL) -> None:
        self.warm = warm
        """The model whose tokenizer the process loads as it starts: the one the dialog previews in."""
        self.closed = False
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the process now, so that its tokenizer is loaded before the first example opens; blocks on a fork only."""
        with self._lock:
            self._live()

    def _live(self) -> subprocess.Popen[str]:
        if self.closed:
            raise OSError("the preview is closing")
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "engine.token_previews", "--warm", self.warm],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                encoding="utf-8",
            )
        return self._process

    def preview(self, spec: dict[str, Any], index: int, model: str, seq_len: int) -> dict[str, Any]:
        """The preview of example ``index`` as ``engine.train.preview`` prints it, or ``{"error": ...}``; blocks, so call it in a worker."""
        request = json.dumps({"spec": spec, "index": index, "model": model, "seq_len": seq_len})
        with self._lock:
            try:
                process = self._live()
                assert process.stdin is not None and process.stdout is not None
                process.stdin.write(request + "\n")
                process.stdin.flush()
                line = process.stdout.readline()
            except (OSError, ValueError) as exc:  # ValueError: the screen closed the pipes meanwhile
                return {"error": f"can't run the token preview: {getattr(exc, 'strerror', None) or exc}"}
        if not line:
            return {"error": "the token preview process ended without an answer"}
        try:
            answer = json.loads(line)
        except ValueError:
            return {"error": "the token preview process answered something that is not JSON"}
        return answer if isinstance(answer, dict) else {"error": "the token preview process answered something that is not an object"}

    def close(self) -> None:
        """End the process at once (it holds nothing to save): the screen is going."""
        self.closed = True
        process, self._process = self._process, None
        if process is None:
            return
        process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass  # a write the kill cut short: nothing to flush to
