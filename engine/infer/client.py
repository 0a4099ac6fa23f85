"""A client for the inference process: start it, send requests, read their events as they come.

    with InferenceClient(runs=["my-run"]) as client:
        client.wait_ready(timeout=300)
        for reply in client.generate("Question: ...", run="my-run", temperature=0):
            if isinstance(reply, Token):
                print(reply.text, end="", flush=True)
        scores = client.likelihood("To be, or not to be", run="my-run")
        print(scores["baseline"].avg_logprob, scores["custom"].avg_logprob)

Requests go out and replies come back as ``engine.infer.protocol`` objects.

Two threads read the process's stdout and stderr, so the process never
blocks on a full pipe. Events are sorted by request id into queues; reading
them never blocks for ever: ``events`` takes a ``timeout``, ``poll`` returns
at once, and the process ending raises ``InferenceError`` in every reader.
No torch here: a TUI can import this module at no cost.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from typing import IO, Any

from engine.infer.protocol import (
    CancelRequest,
    Error,
    GenerateRequest,
    Info,
    InfoRequest,
    LikelihoodRequest,
    Loaded,
    LoadRequest,
    Ready,
    Reply,
    ReplyError,
    Request,
    RequestId,
    Scores,
    Text,
    reply_from_json,
)
from engine.infer.requests import default_models
from engine.paths import REPO_ROOT

_EXITED = object()


class InferenceError(RuntimeError):
    """An ``Error`` reply turned into an exception (``code`` as in the protocol), or the process gone (``exited``)."""

    def __init__(self, message: str, code: str = "internal") -> None:
        super().__init__(message)
        self.code = code


class InferenceClient:
    """One inference process and the requests sent to it.

    ``runs`` are attached at start (their base model is loaded then); ``model``
    loads a base model for baseline-only use. Without either, the first request
    that names a run loads it. The process's stderr is kept (its last lines are
    ``stderr_tail``) and also appended to ``stderr_path`` when given.
    """

    def __init__(
        self,
        runs: Sequence[str] = (),
        model: str | None = None,
        quant: str = "4bit",
        device: str | None = None,
        trust_remote_code: bool = False,
        env: dict[str, str] | None = None,
        stderr_path: str | os.PathLike[str] | None = None,
        python: str = sys.executable,
    ) -> None:
        args = [python, "-m", "engine.infer.server"]
        for run in runs:
            args += ["--run", run]
        if model:
            args += ["--model", model, "--quant", quant]
        if device:
            args += ["--device", device]
        if trust_remote_code:
            args.append("--trust-remote-code")
        environ = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), environ.get("PYTHONPATH", "")) if p)
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environ,
            start_new_session=True,  # a Ctrl-C in the terminal goes to the TUI, which closes the client
        )
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._queues: dict[Any, queue.Queue[Any]] = {}
        self._ids = itertools.count(1)
        self._exited = False
        self.stderr_tail: deque[str] = deque(maxlen=200)
        #: ``Error`` replies (no id) from preloading ``runs`` or ``model``, filled by ``wait_ready``.
        self.startup_errors: list[Error] = []
        self._stderr_file: IO[str] | None = open(stderr_path, "a", encoding="utf-8") if stderr_path else None  # noqa: SIM115
        self._threads = [
            threading.Thread(target=self._read_stdout, name="inference-stdout", daemon=True),
            threading.Thread(target=self._read_stderr, name="inference-stderr", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None and not self._exited

    def _queue(self, rid: Any) -> queue.Queue[Any]:
        with self._lock:
            q = self._queues.get(rid)
            if q is None:
                q = self._queues[rid] = queue.Queue()
                if self._exited:
                    q.put(_EXITED)
            return q

    def _read_stdout(self) -> None:
        assert self._proc.stdout is not None
        for raw in self._proc.stdout:
            try:
                decoded = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                self.stderr_tail.append(f"(not a protocol line on stdout) {raw[:200]!r}")
                continue
            try:
                reply = reply_from_json(decoded)
            except ReplyError as error:
                self.stderr_tail.append(f"(not a protocol reply on stdout: {error}) {raw[:200]!r}")
                rid = decoded.get("id") if isinstance(decoded, dict) else None
                if isinstance(rid, str | int) and not isinstance(rid, bool):  # end its request rather than leave it waiting
                    self._queue(rid).put(Error(id=rid, code="internal", message=f"an unreadable reply from the inference process: {error}"))
                continue
            self._queue(reply.id).put(reply)
        with self._lock:
            self._exited = True
            for q in self._queues.values():
                q.put(_EXITED)

    def _read_stderr(self) -> None:
        assert self._proc.stderr is not None
        for raw in self._proc.stderr:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            self.stderr_tail.append(line)
            if self._stderr_file is not None:
                self._stderr_file.write(line + "\n")
                self._stderr_file.flush()

    def _exit_error(self) -> InferenceError:
        try:
            code = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        tail = [line for line in self.stderr_tail if line.strip()][-3:]
        why = f": {' | '.join(tail)}" if tail else ""
        return InferenceError(f"the inference process exited (code {code}){why}", "exited")

    # -- requests ----------------------------------------------------------------------------

    def send(self, request: Request) -> str:
        """Send one request; returns its id, to read its replies with ``events`` or ``poll``."""
        rid = f"r{next(self._ids)}"
        self._queue(rid)
        self.send_raw(json.dumps(request.to_json(rid), ensure_ascii=False))
        return rid

    def send_raw(self, line: str) -> None:
        """Send one line as it is (tests use it for malformed requests)."""
        assert self._proc.stdin is not None
        try:
            with self._write_lock:
                self._proc.stdin.write(line.encode("utf-8") + b"\n")
                self._proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            raise self._exit_error() from None

    def _next(self, q: queue.Queue[Any], timeout: float | None, late: str) -> Reply:
        """The next reply on ``q``; ``TimeoutError`` ("``late`` within N s") after ``timeout`` seconds,
        ``InferenceError`` once the process has exited (left on ``q`` for the next reader)."""
        try:
            item = q.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"{late} within {timeout:g} s") from None
        if item is _EXITED:
            q.put(_EXITED)
            raise self._exit_error()
        return item

    def events(self, rid: RequestId, timeout: float | None = None) -> Iterator[Reply]:
        """Request ``rid``'s replies as they come, through its ``End`` or ``Error``.

        Raises ``TimeoutError`` when no event comes for ``timeout`` seconds (the
        request goes on; call again to keep reading), ``InferenceError`` when the
        process has exited.
        """
        q = self._queue(rid)
        while True:
            item = self._next(q, timeout, f"no answer to request {rid}")
            yield item
            if item.TERMINAL:
                with self._lock:
                    self._queues.pop(rid, None)
                return

    def poll(self, rid: RequestId) -> list[Reply]:
        """Request ``rid``'s replies that have arrived, without waiting (``[]`` if none)."""
        q = self._queue(rid)
        out = []
        while True:
            try:
                item = q.get_nowait()
            except queue.Empty:
                return out
            if item is _EXITED:
                q.put(_EXITED)
                if out:
                    return out
                raise self._exit_error()
            out.append(item)
            if item.TERMINAL:
                with self._lock:
                    self._queues.pop(rid, None)
                return out

    def request(self, request: Request, timeout: float | None = None) -> Iterator[Reply]:
        """Send a request and iterate over its replies (see ``events``)."""
        return self.events(self.send(request), timeout)

    def call(self, request: Request, timeout: float | None = None) -> list[Reply]:
        """Send a request and wait for all its replies; an ``Error`` raises ``InferenceError``."""
        out = list(self.request(request, timeout))
        last = out[-1]
        if isinstance(last, Error):
            raise InferenceError(last.message, last.code)
        return out

    def wait_ready(self, timeout: float | None = None) -> Ready:
        """Wait for the ``Ready`` reply (the process started and loaded what it was told to); returns it.

        Errors while preloading (an unknown run...) come before it, with no id,
        and are kept in ``startup_errors``.
        """
        q = self._queue(None)
        while True:
            item = self._next(q, timeout, "the inference process was not ready")
            if isinstance(item, Ready):
                return item
            if isinstance(item, Error):
                self.startup_errors.append(item)

    def generate(self, prompt: str, run: str | None = None, timeout: float | None = None, **settings: Any) -> Iterator[Reply]:
        """Stream a generation's replies: ``Start``, ``Token``..., ``Done`` per model, then ``End`` (or ``Error``).

        ``settings``: ``GenerateRequest``'s fields (models, max_tokens, temperature, top_k, top_p, seed, stop);
        ``models`` defaults to both with a run, the baseline without.
        """
        settings["models"] = tuple(settings.get("models") or default_models(run))
        settings["stop"] = tuple(settings.get("stop") or ())
        return self.request(GenerateRequest(prompt=prompt, run=run, **settings), timeout)

    def likelihood(
        self,
        text: str | None = None,
        run: str | None = None,
        prompt: str | None = None,
        texts: Sequence[str | Text] | None = None,
        models: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Scores]:
        """Scores by model (``baseline``, ``custom``): average log-prob, perplexity, per-text and per-token scores."""
        items = [Text(t) if isinstance(t, str) else t for t in texts] if texts is not None else [Text(text or "", prompt)]
        request = LikelihoodRequest(texts=tuple(items), run=run, models=tuple(models or default_models(run)))
        return {r.model: r for r in self.call(request, timeout) if isinstance(r, Scores)}

    def load(self, run: str, replace: bool = False, timeout: float | None = None) -> Loaded:
        return next(r for r in self.call(LoadRequest(run, replace), timeout) if isinstance(r, Loaded))

    def info(self, timeout: float | None = None) -> Info:
        return next(r for r in self.call(InfoRequest(), timeout) if isinstance(r, Info))

    def cancel(self, rid: str) -> None:
        """Ask the process to stop request ``rid``; its own replies say how it ended."""
        self.send(CancelRequest(rid))

    # -- lifetime ----------------------------------------------------------------------------

    def close(self, timeout: float = 10.0) -> int | None:
        """Cancel the requests still open, close stdin (the process then ends), wait, kill it if it lingers."""
        with self._lock:
            open_ids = [rid for rid in self._queues if rid is not None]
        for rid in open_ids:
            try:
                self.send_raw(json.dumps(CancelRequest(rid).to_json(None)))
            except InferenceError:
                break
        try:
            if self._proc.stdin and not self._proc.stdin.closed:
                self._proc.stdin.close()
        except OSError:
            pass
        try:
            code = self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            code = self._proc.wait()
        for thread in self._threads:
            thread.join(timeout=2)
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None
        return code

    def __enter__(self) -> InferenceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
