"""The playground's requests: one frozen dataclass per type, parsed from JSON objects and checked before any model work.

Each request's ``to_json(rid)`` is the line a client sends, and its
``from_json`` (the ``parse_*`` functions) is what the server accepts: the
checks live here, so a request built in code and a line typed by hand are
refused with the same one-line error. No torch here, so a bad request is
answered at once, and the client and the TUI share the defaults without
importing the model stack. ``engine.infer.protocol`` names them together
with the replies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

#: The two sides of every comparison: the base model (adapter off) and a run's model (adapter on).
MODELS: tuple[str, ...] = ("baseline", "custom")
#: At most this many stop sequences, each at most this many characters.
MAX_STOPS = 16
MAX_STOP_CHARS = 200
#: At most this many texts in one likelihood request.
MAX_TEXTS = 256


#: A request's id: the client's choice, echoed in every reply to it (None for the server's own replies).
RequestId = str | int | None


class RequestError(Exception):
    """A request the server refuses, as one line; ``code`` names the kind for clients that branch on it.

    Codes: ``bad_json``, ``bad_request`` (a missing or invalid field),
    ``unknown_type``, ``unknown_run``, ``not_ready`` (the run has no adapter
    yet), ``base_mismatch``, ``too_long``, ``no_model``, ``model`` (the model
    cannot be loaded), ``cancelled``, ``internal``.
    """

    def __init__(self, message: str, code: str = "bad_request") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class GenerateRequest:
    """Generate a completion of ``prompt`` with each of ``models``, the same settings and seed for each."""

    KIND: ClassVar[str] = "generate"
    prompt: str
    run: str | None = None
    models: tuple[str, ...] = ("baseline",)
    max_tokens: int = 64
    #: 0 is greedy decoding (the model's top choice at each step).
    temperature: float = 0.7
    #: Sample among the k most likely tokens only; 0 turns it off.
    top_k: int = 50
    #: Sample among the most likely tokens whose probabilities add up to p; 1 turns it off.
    top_p: float = 1.0
    #: None draws a seed, which the answer reports so the output can be reproduced.
    seed: int | None = None
    #: The generation ends at the first of these; it is not part of the output.
    stop: tuple[str, ...] = ()

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def to_json(self, rid: RequestId = None) -> dict[str, Any]:
        return {
            "id": rid,
            "type": self.KIND,
            "prompt": self.prompt,
            "run": self.run,
            "models": list(self.models),
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_k": self.top_k,
            "top_p": self.top_p,
            "seed": self.seed,
            "stop": list(self.stop),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> GenerateRequest:
        return parse_generate(raw)


@dataclass(frozen=True)
class Text:
    """A text to score; with ``prompt``, only ``text`` (the completion) is scored, ``prompt`` is context."""

    text: str
    prompt: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text} if self.prompt is None else {"text": self.text, "prompt": self.prompt}


@dataclass(frozen=True)
class LikelihoodRequest:
    """Score each text's tokens under each of ``models``."""

    KIND: ClassVar[str] = "likelihood"
    texts: tuple[Text, ...]
    run: str | None = None
    models: tuple[str, ...] = ("baseline",)

    def to_json(self, rid: RequestId = None) -> dict[str, Any]:
        # One text goes as "text" (and "prompt"), as a person would type it, so errors name it the same way.
        texts = self.texts[0].to_json() if len(self.texts) == 1 else {"texts": [t.to_json() for t in self.texts]}
        return {"id": rid, "type": self.KIND, **texts, "run": self.run, "models": list(self.models)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> LikelihoodRequest:
        return parse_likelihood(raw)


@dataclass(frozen=True)
class LoadRequest:
    """Load a run's base model and attach its adapter now (other requests do it when first needed)."""

    KIND: ClassVar[str] = "load"
    run: str
    #: Load the run's base model in place of a different one already loaded.
    replace: bool = False

    def to_json(self, rid: RequestId = None) -> dict[str, Any]:
        return {"id": rid, "type": self.KIND, "run": self.run, "replace": self.replace}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> LoadRequest:
        return parse_load(raw)


@dataclass(frozen=True)
class InfoRequest:
    """Ask what is loaded: base model, quantization, device, context length, attached runs."""

    KIND: ClassVar[str] = "info"

    def to_json(self, rid: RequestId = None) -> dict[str, Any]:
        return {"id": rid, "type": self.KIND}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> InfoRequest:
        return cls()


@dataclass(frozen=True)
class CancelRequest:
    """Stop request ``target`` if it runs or waits; answered at once, never queued behind it."""

    KIND: ClassVar[str] = "cancel"
    target: RequestId

    def to_json(self, rid: RequestId = None) -> dict[str, Any]:
        return {"id": rid, "type": self.KIND, "target": self.target}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> CancelRequest:
        target = raw.get("target")
        if target is None:
            raise RequestError("missing field 'target' (the id of the request to cancel)")
        return cls(target)


Request = GenerateRequest | LikelihoodRequest | LoadRequest | InfoRequest | CancelRequest
REQUESTS: dict[str, type[Request]] = {cls.KIND: cls for cls in (GenerateRequest, LikelihoodRequest, LoadRequest, InfoRequest, CancelRequest)}
REQUEST_TYPES: tuple[str, ...] = tuple(REQUESTS)


def parse_request(raw: dict[str, Any]) -> Request:
    """A request object as its typed request, checked; ``RequestError`` says what is wrong in one line."""
    kind = raw.get("type")
    if kind is None:
        raise RequestError(f"missing field 'type' (one of {', '.join(REQUEST_TYPES)})")
    if kind not in REQUESTS:
        raise RequestError(f"unknown request type {kind!r}: use one of {', '.join(REQUEST_TYPES)}", "unknown_type")
    return REQUESTS[kind].from_json(raw)


def _field(raw: dict[str, Any], name: str, kinds: type | tuple[type, ...], default: Any = ..., what: str = "") -> Any:
    """``raw[name]`` checked against ``kinds`` (bools are not numbers); ``default`` when absent or null."""
    value = raw.get(name)
    if value is None:
        if default is ...:
            raise RequestError(f"missing field '{name}'" + (f" ({what})" if what else ""))
        return default
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        nouns = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "a list"}
        names = " or ".join(dict.fromkeys(nouns.get(k, k.__name__) for k in kinds if not (k is int and float in kinds)))
        raise RequestError(f"'{name}' must be {names}, not {json_type(value)}")
    return value


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _run(raw: dict[str, Any]) -> str | None:
    run = _field(raw, "run", str, None)
    if run is not None and not run.strip():
        raise RequestError("'run' is empty: give a run id, id prefix or name")
    return run.strip() if run else None


def default_models(run: str | None) -> tuple[str, ...]:
    """Both models when a run is named (there is a custom model to compare), the baseline alone otherwise."""
    return MODELS if run else ("baseline",)


def _models(raw: dict[str, Any], run: str | None) -> tuple[str, ...]:
    """The requested sides: both when a run is named, the baseline alone otherwise."""
    value = raw.get("models")
    if value is None:
        return default_models(run)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(m, str) for m in value):
        raise RequestError("'models' must be a non-empty list of 'baseline' and/or 'custom'")
    unknown = [m for m in value if m not in MODELS]
    if unknown:
        raise RequestError(f"unknown model {unknown[0]!r} in 'models': use 'baseline' and/or 'custom'")
    if "custom" in value and not run:
        raise RequestError("'custom' needs a 'run' whose adapter to use")
    return tuple(dict.fromkeys(value))


def parse_generate(raw: dict[str, Any]) -> GenerateRequest:
    prompt = _field(raw, "prompt", str, what="the text to continue")
    if not prompt.strip():
        raise RequestError("the prompt is empty")
    run = _run(raw)
    max_tokens = _field(raw, "max_tokens", int, GenerateRequest.max_tokens)
    if max_tokens < 1:
        raise RequestError(f"max_tokens must be at least 1, not {max_tokens}")
    temperature = float(_field(raw, "temperature", (int, float), GenerateRequest.temperature))
    if not 0 <= temperature <= 100:
        raise RequestError(f"temperature must be between 0 (greedy) and 100, not {temperature:g}")
    top_k = _field(raw, "top_k", int, GenerateRequest.top_k)
    if top_k < 0:
        raise RequestError(f"top_k must be 0 (off) or more, not {top_k}")
    top_p = float(_field(raw, "top_p", (int, float), GenerateRequest.top_p))
    if not 0 < top_p <= 1:
        raise RequestError(f"top_p must be in (0, 1] (1 is off), not {top_p:g}")
    seed = _field(raw, "seed", int, None)
    if seed is not None and not 0 <= seed < 2**63:
        raise RequestError(f"seed must be between 0 and 2**63 - 1, not {seed}")
    stop = raw.get("stop")
    if stop is None:
        stop = []
    elif isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
        raise RequestError("'stop' must be a non-empty string or a list of them")
    if len(stop) > MAX_STOPS or any(len(s) > MAX_STOP_CHARS for s in stop):
        raise RequestError(f"at most {MAX_STOPS} stop sequences of at most {MAX_STOP_CHARS} characters each")
    return GenerateRequest(
        prompt=prompt,
        run=run,
        models=_models(raw, run),
        max_tokens=max_tokens,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=seed,
        stop=tuple(dict.fromkeys(stop)),
    )


def _text(item: Any, where: str) -> Text:
    if isinstance(item, str):
        item = {"text": item}
    if not isinstance(item, dict):
        raise RequestError(f"{where} must be a string or an object with 'text' (and 'prompt')")
    text = _field(item, "text", str, what="the text to score")
    prompt = _field(item, "prompt", str, None)
    if not text:
        raise RequestError(f"{where}: the text to score is empty")
    return Text(text, prompt or None)


def parse_likelihood(raw: dict[str, Any]) -> LikelihoodRequest:
    run = _run(raw)
    if "texts" in raw and raw["texts"] is not None:
        items = raw["texts"]
        if not isinstance(items, list) or not items:
            raise RequestError("'texts' must be a non-empty list")
        if len(items) > MAX_TEXTS:
            raise RequestError(f"at most {MAX_TEXTS} texts in one request, not {len(items)}")
        texts = tuple(_text(item, f"texts[{i}]") for i, item in enumerate(items))
    elif "text" in raw:
        texts = (_text({"text": raw.get("text"), "prompt": raw.get("prompt")}, "'text'"),)
    else:
        raise RequestError("missing field 'text' (or 'texts'): the text to score")
    return LikelihoodRequest(texts=texts, run=run, models=_models(raw, run))


def parse_load(raw: dict[str, Any]) -> LoadRequest:
    run = _run(raw)
    if run is None:
        raise RequestError("missing field 'run' (the run whose model and adapter to load)")
    return LoadRequest(run, bool(_field(raw, "replace", bool, False)))
