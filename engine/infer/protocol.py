"""The playground's protocol as types: every request a client sends and every reply the server sends back.

One frozen dataclass per request type (``engine.infer.requests``, where the
checks live) and per reply event (here). The session and the server emit
replies, ``line_writer`` turns each into one JSON line with ``to_json``,
and ``InferenceClient`` reads each line back with ``reply_from_json``, so
the CLI, the TUI and the tests read attributes, never string keys, and a
field is renamed in one place. The JSON lines are those of protocol
version ``PROTOCOL`` (see ``engine.infer``), which the server reports in
``ready`` and ``info``.

Reading a reply is strict: a line that is not an event this code knows, or
lacks a field its event needs, raises ``ReplyError`` (the client turns it
into an ``internal`` error for its request, so no reader waits for ever).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from engine.infer.requests import (
    MODELS,
    REQUEST_TYPES,
    CancelRequest,
    GenerateRequest,
    InfoRequest,
    LikelihoodRequest,
    LoadRequest,
    Request,
    RequestError,
    RequestId,
    Text,
    Turn,
    parse_request,
)

#: The protocol version this code speaks; ``ready`` and ``info`` carry it.
PROTOCOL = 1


class ReplyError(ValueError):
    """A line from the server that is not a reply this code knows; the message says what is wrong."""


def _need(raw: dict[str, Any], key: str, kinds: type | tuple[type, ...]) -> Any:
    value = raw.get(key)
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)) or not isinstance(value, kinds):
        raise ReplyError(f"a {raw.get('event')!r} reply without its {key!r}")
    return value


def _maybe(raw: dict[str, Any], key: str, kinds: type | tuple[type, ...]) -> Any:
    return None if raw.get(key) is None else _need(raw, key, kinds)


def _number(raw: dict[str, Any], key: str) -> float | None:
    """A figure that may be absent (None): JSON has no NaN, so the server writes a non-finite one as null."""
    value = _maybe(raw, key, (int, float))
    return float(value) if value is not None else None


def finite(x: float) -> float | None:
    """``x``, or None when it is NaN or infinite (how a reply carries a figure that has no value)."""
    return x if math.isfinite(x) else None


@dataclass(frozen=True, kw_only=True)
class Reply:
    """What every reply has: the id of the request it answers (None for the server's own: ``ready``, startup errors)."""

    KIND: ClassVar[str] = ""
    #: Whether this reply is a request's last (every request gets exactly one).
    TERMINAL: ClassVar[bool] = False
    id: RequestId = None

    def fields(self) -> dict[str, Any]:
        """The event's own fields, as written to the line."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "event": self.KIND, **self.fields()}

    def answering(self, rid: RequestId) -> Reply:
        """This reply as the answer to request ``rid``."""
        return dataclasses.replace(self, id=rid)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Reply:
        raise NotImplementedError


@dataclass(frozen=True)
class ModelInfo:
    """What is loaded: the base model, where it is, its quantization, device, context length, attached runs."""

    protocol: int = PROTOCOL
    model: str | None = None
    model_path: str | None = None
    quant: str | None = None
    device: str | None = None
    context: int | None = None
    adapters: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "model": self.model,
            "model_path": self.model_path,
            "quant": self.quant,
            "device": self.device,
            "context": self.context,
            "adapters": list(self.adapters),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ModelInfo:
        adapters = _need(raw, "adapters", list)
        return cls(
            protocol=_need(raw, "protocol", int),
            model=_maybe(raw, "model", str),
            model_path=_maybe(raw, "model_path", str),
            quant=_maybe(raw, "quant", str),
            device=_maybe(raw, "device", str),
            context=_maybe(raw, "context", int),
            adapters=tuple(str(a) for a in adapters),
        )


@dataclass(frozen=True, kw_only=True)
class Ready(Reply):
    """The process started and loaded what it was told to (id None)."""

    KIND: ClassVar[str] = "ready"
    pid: int
    info: ModelInfo

    def fields(self) -> dict[str, Any]:
        return {"pid": self.pid, **self.info.to_json()}

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Ready:
        return cls(pid=_need(raw, "pid", int), info=ModelInfo.from_json(raw))


@dataclass(frozen=True, kw_only=True)
class Info(Reply):
    """The answer to ``info``."""

    KIND: ClassVar[str] = "info"
    info: ModelInfo

    def fields(self) -> dict[str, Any]:
        return self.info.to_json()

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Info:
        return cls(info=ModelInfo.from_json(raw))


@dataclass(frozen=True, kw_only=True)
class Loading(Reply):
    """A model or adapter starts loading (it can take a while); ``what`` names it."""

    KIND: ClassVar[str] = "loading"
    what: str

    def fields(self) -> dict[str, Any]:
        return {"what": self.what}

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Loading:
        return cls(what=_need(raw, "what", str))


@dataclass(frozen=True, kw_only=True)
class Loaded(Reply):
    """The answer to ``load``: ``run``'s adapter is attached, and what is loaded now."""

    KIND: ClassVar[str] = "loaded"
    run: str
    info: ModelInfo

    def fields(self) -> dict[str, Any]:
        return {"run": self.run, **self.info.to_json()}

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Loaded:
        return cls(run=_need(raw, "run", str), info=ModelInfo.from_json(raw))


@dataclass(frozen=True, kw_only=True)
class Start(Reply):
    """``model`` starts generating: its run (custom and versus only), prompt length, token budget and seed,
    and the prompt as the model reads it (a chat rendered with its template), for "show the prompt"."""

    KIND: ClassVar[str] = "start"
    model: str
    run: str | None
    prompt_tokens: int
    max_tokens: int
    seed: int
    prompt: str | None = None

    def fields(self) -> dict[str, Any]:
        return {
            "model": self.model, "run": self.run, "prompt_tokens": self.prompt_tokens, "max_tokens": self.max_tokens, "seed": self.seed,
            "prompt": self.prompt,
        }

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Start:
        return cls(
            model=_need(raw, "model", str),
            run=_maybe(raw, "run", str),
            prompt_tokens=_need(raw, "prompt_tokens", int),
            max_tokens=_need(raw, "max_tokens", int),
            seed=_need(raw, "seed", int),
            prompt=_maybe(raw, "prompt", str),
        )


@dataclass(frozen=True, kw_only=True)
class Token(Reply):
    """More of ``model``'s text: pieces add up to its ``done`` text."""

    KIND: ClassVar[str] = "token"
    model: str
    text: str

    def fields(self) -> dict[str, Any]:
        return {"model": self.model, "text": self.text}

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Token:
        return cls(model=_need(raw, "model", str), text=_need(raw, "text", str))


#: How a generation can end (``Done.finish_reason``).
FINISH_REASONS = ("eos", "stop", "length", "context", "cancelled")


@dataclass(frozen=True, kw_only=True)
class Done(Reply):
    """``model`` has finished: its whole text, token count, why it ended, its seed and speed."""

    KIND: ClassVar[str] = "done"
    model: str
    run: str | None
    text: str
    tokens: int
    finish_reason: str
    #: The stop sequence that ended it, when ``finish_reason`` is ``stop``.
    stop: str | None
    seed: int
    seconds: float
    time_to_first_token_s: float | None
    tokens_per_s: float | None

    def fields(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "run": self.run,
            "text": self.text,
            "tokens": self.tokens,
            "finish_reason": self.finish_reason,
            "stop": self.stop,
            "seed": self.seed,
            "seconds": self.seconds,
            "time_to_first_token_s": self.time_to_first_token_s,
            "tokens_per_s": self.tokens_per_s,
        }

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Done:
        return cls(
            model=_need(raw, "model", str),
            run=_maybe(raw, "run", str),
            text=_need(raw, "text", str),
            tokens=_need(raw, "tokens", int),
            finish_reason=_need(raw, "finish_reason", str),
            stop=_maybe(raw, "stop", str),
            seed=_need(raw, "seed", int),
            seconds=float(_need(raw, "seconds", (int, float))),
            time_to_first_token_s=_number(raw, "time_to_first_token_s"),
            tokens_per_s=_number(raw, "tokens_per_s"),
        )


@dataclass(frozen=True)
class TokenScore:
    """One scored token: its exact text in context, its id, log-probability (None if not finite) and rank (1: the top choice)."""

    text: str
    id: int
    logprob: float | None
    rank: int

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "id": self.id, "logprob": self.logprob, "rank": self.rank}

    @classmethod
    def from_json(cls, raw: Any) -> TokenScore:
        if not isinstance(raw, dict):
            raise ReplyError("a scored token that is not an object")
        return cls(_need(raw, "text", str), _need(raw, "id", int), _number(raw, "logprob"), _need(raw, "rank", int))


@dataclass(frozen=True)
class Averages:
    """Mean log-prob per token, the perplexity it implies (exp of minus it), over ``scored_tokens`` tokens."""

    avg_logprob: float | None
    perplexity: float | None
    scored_tokens: int

    @classmethod
    def of(cls, total: float, count: int) -> Averages:
        avg = total / count if count else float("nan")
        try:
            ppl = math.exp(-avg)
        except OverflowError:
            ppl = float("inf")
        return cls(finite(avg), finite(ppl), count)

    def to_json(self) -> dict[str, Any]:
        return {"avg_logprob": self.avg_logprob, "perplexity": self.perplexity, "scored_tokens": self.scored_tokens}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Averages:
        return cls(_number(raw, "avg_logprob"), _number(raw, "perplexity"), _need(raw, "scored_tokens", int))


@dataclass(frozen=True)
class TextScores:
    """One text's averages and its scored tokens."""

    averages: Averages
    tokens: tuple[TokenScore, ...]

    @property
    def avg_logprob(self) -> float | None:
        return self.averages.avg_logprob

    @property
    def perplexity(self) -> float | None:
        return self.averages.perplexity

    @property
    def scored_tokens(self) -> int:
        return self.averages.scored_tokens

    def to_json(self) -> dict[str, Any]:
        return {**self.averages.to_json(), "tokens": [t.to_json() for t in self.tokens]}

    @classmethod
    def from_json(cls, raw: Any) -> TextScores:
        if not isinstance(raw, dict):
            raise ReplyError("a scored text that is not an object")
        return cls(Averages.from_json(raw), tuple(TokenScore.from_json(t) for t in _need(raw, "tokens", list)))


@dataclass(frozen=True, kw_only=True)
class Scores(Reply):
    """``model``'s scores of a likelihood request: the averages over all its texts, then each text's."""

    KIND: ClassVar[str] = "scores"
    model: str
    run: str | None
    averages: Averages
    texts: tuple[TextScores, ...]

    @property
    def avg_logprob(self) -> float | None:
        return self.averages.avg_logprob

    @property
    def perplexity(self) -> float | None:
        return self.averages.perplexity

    @property
    def scored_tokens(self) -> int:
        return self.averages.scored_tokens

    def fields(self) -> dict[str, Any]:
        return {"model": self.model, "run": self.run, **self.averages.to_json(), "texts": [t.to_json() for t in self.texts]}

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Scores:
        return cls(
            model=_need(raw, "model", str),
            run=_maybe(raw, "run", str),
            averages=Averages.from_json(raw),
            texts=tuple(TextScores.from_json(t) for t in _need(raw, "texts", list)),
        )


@dataclass(frozen=True, kw_only=True)
class End(Reply):
    """A request succeeded (its last reply); for a ``cancel``, whether there was a request to stop."""

    KIND: ClassVar[str] = "end"
    TERMINAL: ClassVar[bool] = True
    cancelled: bool | None = None

    def fields(self) -> dict[str, Any]:
        return {} if self.cancelled is None else {"cancelled": self.cancelled}

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> End:
        return cls(cancelled=_maybe(raw, "cancelled", bool))


@dataclass(frozen=True, kw_only=True)
class Error(Reply):
    """A request failed (its last reply), or a preload did (id None): ``code`` for clients, ``message`` for people."""

    KIND: ClassVar[str] = "error"
    TERMINAL: ClassVar[bool] = True
    code: str
    message: str
    field: str | None = None
    """The request's key that the message names first (``max_tokens``), when it is about one."""

    def fields(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message} | ({"field": self.field} if self.field else {})

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Error:
        return cls(code=_maybe(raw, "code", str) or "internal", message=_need(raw, "message", str), field=_maybe(raw, "field", str))

    @classmethod
    def of(cls, error: RequestError, rid: RequestId = None) -> Error:
        return cls(id=rid, code=error.code, message=str(error), field=error.field)


REPLIES: dict[str, type[Reply]] = {
    cls.KIND: cls for cls in (Ready, Info, Loading, Loaded, Start, Token, Done, Scores, End, Error)
}


def reply_from_json(raw: Any) -> Reply:
    """A decoded line as its typed reply; ``ReplyError`` when it is not one."""
    if not isinstance(raw, dict):
        raise ReplyError("a reply that is not a JSON object")
    cls = REPLIES.get(raw.get("event"))  # type: ignore[arg-type]
    if cls is None:
        raise ReplyError(f"unknown reply event {raw.get('event')!r}")
    rid = raw.get("id")
    if not (rid is None or isinstance(rid, str | int) and not isinstance(rid, bool)):
        raise ReplyError(f"a reply with a bad id {rid!r}")
    return cls.parse(raw).answering(rid)


__all__ = [
    "MODELS",
    "PROTOCOL",
    "REPLIES",
    "REQUEST_TYPES",
    "Averages",
    "CancelRequest",
    "Done",
    "End",
    "Error",
    "GenerateRequest",
    "Info",
    "InfoRequest",
    "LikelihoodRequest",
    "Loaded",
    "Loading",
    "LoadRequest",
    "ModelInfo",
    "Ready",
    "Reply",
    "ReplyError",
    "Request",
    "RequestError",
    "RequestId",
    "Scores",
    "Start",
    "Text",
    "TextScores",
    "Token",
    "TokenScore",
    "Turn",
    "parse_request",
    "reply_from_json",
]
