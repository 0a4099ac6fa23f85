"""The playground's inference process: JSON-line requests on stdin, JSON-line events on stdout.

    python -m engine.infer.server [--run RUN ...] [--model M [--quant Q]] [--device D]

Replies are ``engine.infer.protocol`` objects, written one JSON line each.
Only protocol lines go to stdout; warnings and logs (and anything a library
prints) go to stderr. Requests run one at a time, in order; a ``cancel``
request is answered at once, from the thread that reads stdin, and stops the
request it names. A bad request is answered with an ``error`` event and the
process keeps serving. The process ends when stdin closes.
See ``engine.infer`` for the protocol.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
import traceback
from collections import Counter
from collections.abc import Callable
from typing import IO, Any

from engine.infer.protocol import (
    PROTOCOL,
    CancelRequest,
    End,
    Error,
    GenerateRequest,
    Info,
    InfoRequest,
    LikelihoodRequest,
    Loaded,
    Loading,
    ModelInfo,
    Ready,
    Reply,
    RequestError,
    parse_request,
)
from engine.infer.requests import json_type
from engine.infer.session import InferenceSession

Emit = Callable[[Reply], None]


class Server:
    """Answers requests with a session; ``handle`` is the one code path, in the process or in the CLI."""

    def __init__(self, session: InferenceSession | None = None) -> None:
        self.session = session or InferenceSession()
        self._lock = threading.Lock()
        self._current: Any = None
        self._current_cancel = threading.Event()
        self._queued: Counter[Any] = Counter()
        self._cancelled: set[Any] = set()

    # -- one request -------------------------------------------------------------------------

    def handle(self, request: str | bytes | dict[str, Any], emit: Emit) -> bool:
        """Answer one request: its replies, then ``End``, or an ``Error``. True if it succeeded."""
        rid = None
        try:
            raw = _parse_line(request) if isinstance(request, (str, bytes)) else request
            if not isinstance(raw, dict):
                raise RequestError(f"a request must be a JSON object, not {json_type(raw)}")
            rid = raw.get("id")
            if not (rid is None or isinstance(rid, (str, int)) and not isinstance(rid, bool)):
                rid = None
                raise RequestError("'id' must be a string or an integer")
            if raw.get("type") == CancelRequest.KIND:  # answered at once, never waits behind the request it stops
                emit(End(id=rid, cancelled=self.cancel(CancelRequest.from_json(raw))))
                return True
            cancel = self._start(rid)
            try:
                self._dispatch(parse_request(raw), lambda reply: emit(reply.answering(rid)), cancel)
            finally:
                self._finish(rid)
            emit(End(id=rid))
            return True
        except RequestError as exc:
            emit(Error.of(exc, rid))
        except Exception as exc:  # anything else: report it, log it, keep serving
            traceback.print_exc(file=sys.stderr)
            first = (str(exc).strip().splitlines() or [""])[0]
            emit(Error(id=rid, code="internal", message=f"{type(exc).__name__}: {first}".rstrip(": ")))
        return False

    def _dispatch(self, request: Any, out: Emit, cancel: threading.Event) -> None:
        if isinstance(request, InfoRequest):
            out(Info(info=self.info()))
            return
        self.session.on_loading = lambda what: out(Loading(what=what))
        try:
            if isinstance(request, GenerateRequest):
                self.session.generate(request, out, cancel)
            elif isinstance(request, LikelihoodRequest):
                self.session.likelihood(request, out, cancel)
            else:
                run = self.session.attach(request.run, replace=request.replace)
                out(Loaded(run=run.id, info=self.info()))
        finally:
            self.session.on_loading = None

    def info(self) -> ModelInfo:
        """What is loaded: base model, quantization, device, context length, attached runs."""
        s = self.session
        base = s.base
        return ModelInfo(
            protocol=PROTOCOL,
            model=base.name if base else None,
            model_path=str(base.path) if base else None,
            quant=base.quant if base else None,
            device=str(s.model.device) if s.model is not None and hasattr(s.model, "device") else None,
            context=s.context_length if s.model is not None else None,
            adapters=tuple(s.adapters),
        )

    # -- cancelling --------------------------------------------------------------------------

    def queued(self, rid: Any) -> None:
        """Note that request ``rid`` waits to be handled (so that it can be cancelled before it starts)."""
        with self._lock:
            self._queued[rid] += 1

    def cancel(self, request: CancelRequest) -> bool:
        """Stop request ``target`` if it runs or waits; thread-safe. False if there is no such request."""
        target = request.target
        with self._lock:
            if self._current is not None and target == self._current:
                self._current_cancel.set()
                return True
            if self._queued[target] > 0:
                self._cancelled.add(target)
                return True
        return False

    def _start(self, rid: Any) -> threading.Event:
        with self._lock:
            if self._queued[rid] > 0:
                self._queued[rid] -= 1
            if rid in self._cancelled:
                self._cancelled.discard(rid)
                raise RequestError("cancelled before it started", "cancelled")
            self._current = rid
            self._current_cancel = threading.Event()
            return self._current_cancel

    def _finish(self, rid: Any) -> None:
        with self._lock:
            self._current = None


def _parse_line(line: str | bytes) -> Any:
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        return json.loads(text)
    except UnicodeDecodeError:
        raise RequestError("the request is not UTF-8", "bad_json") from None
    except json.JSONDecodeError as exc:
        raise RequestError(f"the request is not valid JSON: {exc}", "bad_json") from None


def line_writer(out: IO[str]) -> Emit:
    """An ``emit`` that writes each reply as one JSON line and flushes; safe from several threads."""
    lock = threading.Lock()

    def emit(reply: Reply) -> None:
        line = json.dumps(reply.to_json(), ensure_ascii=False, allow_nan=False) + "\n"
        with lock:
            out.write(line)
            out.flush()

    return emit


def serve(server: Server, stdin: IO[bytes], emit: Emit) -> None:
    """Read requests until stdin closes; handle them in order, cancels at once."""
    work: queue.Queue[Any] = queue.Queue()
    done = object()

    def read() -> None:
        try:
            for line in stdin:
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    work.put(line)  # answered in order, as a bad_json error
                    continue
                if isinstance(raw, dict) and raw.get("type") == "cancel":
                    server.handle(raw, emit)
                    continue
                if isinstance(raw, dict):
                    server.queued(raw.get("id"))
                work.put(raw)
        finally:
            work.put(done)

    threading.Thread(target=read, name="stdin-reader", daemon=True).start()
    while (item := work.get()) is not done:
        server.handle(item, emit)


def protocol_stdout() -> IO[str]:
    """The real stdout, for protocol lines only; file descriptor 1 and ``sys.stdout`` now go to stderr.

    Libraries that print (even from C) then write to stderr, never into the protocol.
    """
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(fd, "w", encoding="utf-8", buffering=1)


def quiet_libraries(warnings: bool = True) -> None:
    """No progress bars (nobody sees them in a pipe) and, unless ``warnings``, only errors from the libraries' loggers."""
    import logging

    if not warnings:
        import warnings as py_warnings

        py_warnings.filterwarnings("ignore", category=FutureWarning)
        py_warnings.filterwarnings("ignore", category=DeprecationWarning)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    level = logging.WARNING if warnings else logging.ERROR
    logging.getLogger("bitsandbytes").setLevel(max(level, logging.ERROR))  # its "no kernels package" note on import
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity(level)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m engine.infer.server", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", action="append", default=[], metavar="RUN", help="attach this run's adapter at start (repeatable); its base model is loaded")
    p.add_argument("--model", metavar="M", help="load this base model at start, for baseline-only requests")
    p.add_argument("--quant", default="4bit", choices=("4bit", "8bit", "none"), help="quantization of --model (default: %(default)s)")
    p.add_argument("--trust-remote-code", action="store_true", help="allow a --model that ships its own code")
    p.add_argument("--device", metavar="D", help="cpu or cuda (default: cuda when there is one)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    emit = line_writer(protocol_stdout())
    quiet_libraries()
    server = Server(InferenceSession(device=args.device))
    # Preloading answers like requests without an id: an error does not stop the server.
    if args.model:
        _preload_model(server, args, emit)
    for run in args.run:
        server.handle({"id": None, "type": "load", "run": run}, emit)
    emit(Ready(pid=os.getpid(), info=server.info()))
    serve(server, sys.stdin.buffer, emit)
    return 0


def _preload_model(server: Server, args: argparse.Namespace, emit: Emit) -> None:
    try:
        server.session.load_base(args.model, args.quant, args.trust_remote_code)
    except RequestError as exc:
        emit(Error.of(exc))


if __name__ == "__main__":
    sys.exit(main())
