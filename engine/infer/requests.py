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
#: The model of a second run on the same base (``versus``), for A/B: ``custom`` is A, ``versus`` is B.
VERSUS = "versus"
#: Every model a request can ask for.
ALL_MODELS: tuple[str, ...] = (*MODELS, VERSUS)
#: The roles of a chat request's turns.
CHAT_ROLES = ("system", "user", "assistant")
#: At most this many turns in a chat request.
MAX_TURNS = 256
#: At most this many stop sequences, each at most this many characters.
MAX_STOPS = 16
MAX_STOP_CHARS = 200
#: At most this many texts in one likelihood request.
MAX_TEXTS = 256
#: A temperature below this decodes greedily, as 0 does (logits over 1e-300 are inf, and sampling from them fails).
MIN_TEMPERATURE = 1e-4


#: A request's id: the client's choice, echoed in every reply to it (None for the server's own replies).
RequestId = str | int | None


class RequestError(Exception):
    """A request the server refuses, as one line; ``code`` names the kind for clients that branch on it.

    Codes: ``bad_json``, ``bad_request`` (a missing or invalid field),
    ``unknown_type``, ``unknown_run``, ``not_ready`` (the run has no adapter
    yet), ``base_mismatch``, ``too_long``, ``no_model``, ``model`` (the model
    cannot be loaded), ``template`` (the chat template fails on the chat),
    ``cancelled``, ``internal``.
    """

    def __init__(self, message: str, code: str = "bad_request", field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        """The request's key the message is about, when it names one first: a front end words it its own way."""


@dataclass(frozen=True)
class Turn:
    """One turn of a chat request. An earlier assistant turn may differ by model (``replies``): in a chat
    side by side, each model goes on from its own answers."""

    role: str
    content: str = ""
    #: model -> that model's text for this turn, when the models answered differently.
    replies: tuple[tuple[str, str], ...] = ()

    def for_model(self, model: str) -> dict[str, str]:
        """The turn as ``model``'s chat template takes it."""
        return {"role": self.role, "content": dict(self.replies).get(model, self.content)}

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role, "content": dict(self.replies) if self.replies else self.content}


@dataclass(frozen=True)
class GenerateRequest:
    """Generate a completion of ``prompt`` (or an answer to the chat ``messages``) with each of ``models``,
    the same settings and seed for each."""

    KIND: ClassVar[str] = "generate"
    prompt: str = ""
    run: str | None = None
    #: A second run on the same base model, for A/B (its model is ``versus``).
    versus: str | None = None
    #: A chat (system, user and assistant turns, ending with the user's): rendered with the run's chat
    #: template and its generation prompt, and the answer ends at the template's end of turn.
    messages: tuple[Turn, ...] = ()
    models: tuple[str, ...] = ("baseline",)
    max_tokens: int = 64
    #: 0 is greedy decoding (the model's top choice at each step), and so is anything below ``MIN_TEMPERATURE``.
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
        """Below ``MIN_TEMPERATURE`` sampling is greedy in all but name, and the logits divided by it would overflow to inf."""
        return self.temperature < MIN_TEMPERATURE

    def to_json(self, rid: RequestId = None) -> dict[str, Any]:
        return {
            "id": rid,
            "type": self.KIND,
            "prompt": self.prompt,
            "run": self.run,
            "versus": self.versus,
            "messages": [t.to_json() for t in self.messages],
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
    #: A second run on the same base model, for A/B (its model is ``versus``).
    versus: str | None = None

    def to_json(self, rid: RequestId = None) -> dict[str, Any]:
        # One text goes as "text" (and "prompt"), as a person would type it, so errors name it the same way.
        texts = self.texts[0].to_json() if len(self.texts) == 1 else {"texts": [t.to_json() for t in self.texts]}
        return {"id": rid, "type": self.KIND, **texts, "run": self.run, "versus": self.versus, "models": list(self.models)}

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
    _check_unicode(raw, "")
    return REQUESTS[kind].from_json(raw)


def _check_unicode(value: Any, where: str) -> None:
    """``RequestError`` for a string holding a lone surrogate: no tokenizer takes one.

    JSON can carry ``\\udced`` alone, and Python makes one of each byte that
    is not UTF-8 in a command-line argument (``$'\\xed\\xa0\\x80'``).
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = exc.start
            raise RequestError(
                f"'{where}' is not valid text: character {bad + 1} is a lone surrogate (U+{ord(value[bad]):04X}), "
                "as bytes that are not UTF-8 become; give the text as UTF-8",
                field=where.split("[")[0].split(".")[0] or None,
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_unicode(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_unicode(item, f"{where}[{i}]")


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


def _run(raw: dict[str, Any], key: str = "run") -> str | None:
    run = _field(raw, key, str, None)
    if run is not None and not run.strip():
        raise RequestError(f"'{key}' is empty: give a run id, id prefix or name")
    return run.strip() if run else None


def _versus(raw: dict[str, Any], run: str | None) -> str | None:
    versus = _run(raw, "versus")
    if versus is not None and run is None:
        raise RequestError("'versus' needs a 'run' to compare it with (A/B: run is A, versus is B)")
    return versus


def default_models(run: str | None, versus: str | None = None) -> tuple[str, ...]:
    """A against B with ``versus``; else both models when a run is named, the baseline alone otherwise."""
    if versus:
        return ("custom", VERSUS)
    return MODELS if run else ("baseline",)


def _models(raw: dict[str, Any], run: str | None, versus: str | None = None) -> tuple[str, ...]:
    """The requested sides: A and B with ``versus``, both when a run is named, the baseline alone otherwise."""
    value = raw.get("models")
    if value is None:
        return default_models(run, versus)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(m, str) for m in value):
        raise RequestError("'models' must be a non-empty list of 'baseline', 'custom' and/or 'versus'")
    unknown = [m for m in value if m not in ALL_MODELS]
    if unknown:
        raise RequestError(f"unknown model {unknown[0]!r} in 'models': use 'baseline', 'custom' and/or 'versus'")
    if "custom" in value and not run:
        raise RequestError("'custom' needs a 'run' whose adapter to use")
    if VERSUS in value and not versus:
        raise RequestError("'versus' in 'models' needs a 'versus' run (A/B: a second run on the same base model)")
    return tuple(dict.fromkeys(value))


def _turns(raw: dict[str, Any], models: tuple[str, ...]) -> tuple[Turn, ...]:
    """A chat request's ``messages``, checked: known roles, text contents, ending with the user's turn."""
    value = raw.get("messages")
    if value is None or value == []:
        return ()
    if not isinstance(value, list) or len(value) > MAX_TURNS:
        raise RequestError(f"'messages' must be a list of at most {MAX_TURNS} turns")
    turns = []
    for i, item in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(item, dict):
            raise RequestError(f"{where} must be an object with 'role' and 'content'")
        role = item.get("role")
        if role not in CHAT_ROLES:
            raise RequestError(f"{where}: 'role' must be one of {', '.join(CHAT_ROLES)}, not {role!r}")
        content = item.get("content")
        if isinstance(content, dict) and role == "assistant":
            if not content or not all(isinstance(k, str) and k in ALL_MODELS and isinstance(v, str) for k, v in content.items()):
                raise RequestError(f"{where}: an assistant 'content' by model must map {', '.join(models)} to texts")
            turns.append(Turn(role, "", tuple(sorted(content.items()))))
        elif isinstance(content, str):
            turns.append(Turn(role, content))
        else:
            also = " (or, for an assistant turn, an object of texts by model)" if role == "assistant" else ""
            raise RequestError(f"{where}: 'content' must be a string{also}")
    if turns[-1].role != "user" or not turns[-1].content.strip():
        raise RequestError("a chat must end with the user's turn, not empty: it is what the models answer")
    return tuple(turns)


def parse_generate(raw: dict[str, Any]) -> GenerateRequest:
    run = _run(raw)
    versus = _versus(raw, run)
    models = _models(raw, run, versus)
    messages = _turns(raw, models)
    prompt = _field(raw, "prompt", str, "" if messages else ..., what="the text to continue, or 'messages': a chat")
    if not messages and not prompt.strip():
        raise RequestError("the prompt is empty")
    max_tokens = _field(raw, "max_tokens", int, GenerateRequest.max_tokens)
    if max_tokens < 1:
        raise RequestError(f"max_tokens must be at least 1, not {max_tokens}", field="max_tokens")
    temperature = float(_field(raw, "temperature", (int, float), GenerateRequest.temperature))
    if not 0 <= temperature <= 100:
        raise RequestError(f"temperature must be between 0 (greedy) and 100, not {temperature:g}", field="temperature")
    top_k = _field(raw, "top_k", int, GenerateRequest.top_k)
    if top_k < 0:
        raise RequestError(f"top_k must be 0 (off) or more, not {top_k}", field="top_k")
    top_p = float(_field(raw, "top_p", (int, float), GenerateRequest.top_p))
    if not 0 < top_p <= 1:
        raise RequestError(f"top_p must be in (0, 1] (1 is off), not {top_p:g}", field="top_p")
    seed = _field(raw, "seed", int, None)
    if seed is not None and not 0 <= seed < 2**63:
        raise RequestError(f"seed must be between 0 and 2**63 - 1, not {seed}", field="seed")
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
        versus=versus,
        messages=messages,
        models=models,
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
    versus = _versus(raw, run)
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
    return LikelihoodRequest(texts=texts, run=run, models=_models(raw, run, versus), versus=versus)


def parse_load(raw: dict[str, Any]) -> LoadRequest:
    run = _run(raw)
    if run is None:
        raise RequestError("missing field 'run' (the run whose model and adapter to load)")
    return LoadRequest(run, bool(_field(raw, "replace", bool, False)))
