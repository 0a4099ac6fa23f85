"""The playground's requests: parsed from JSON objects and checked before any model work.

No torch here, so a bad request is answered at once, and the client and the
TUI can share the defaults without importing the model stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The two sides of every comparison: the base model (adapter off) and a run's model (adapter on).
MODELS: tuple[str, ...] = ("baseline", "custom")
REQUEST_TYPES: tuple[str, ...] = ("generate", "likelihood", "load", "info", "cancel")
#: At most this many stop sequences, each at most this many characters.
MAX_STOPS = 16
MAX_STOP_CHARS = 200
#: At most this many texts in one likelihood request.
MAX_TEXTS = 256


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


@dataclass(frozen=True)
class Text:
    """A text to score; with ``prompt``, only ``text`` (the completion) is scored, ``prompt`` is context."""

    text: str
    prompt: str | None = None


@dataclass(frozen=True)
class LikelihoodRequest:
    """Score each text's tokens under each of ``models``."""

    texts: tuple[Text, ...]
    run: str | None = None
    models: tuple[str, ...] = ("baseline",)


@dataclass(frozen=True)
class LoadRequest:
    """Load a run's base model and attach its adapter now (other requests do it when first needed)."""

    run: str
    #: Load the run's base model in place of a different one already loaded.
    replace: bool = False


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


def _models(raw: dict[str, Any], run: str | None) -> tuple[str, ...]:
    """The requested sides: both when a run is named, the baseline alone otherwise."""
    value = raw.get("models")
    if value is None:
        return MODELS if run else ("baseline",)
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
