"""The playground: baseline and custom generations and log-likelihoods, from one loaded model.

- ``InferenceSession`` (``engine.infer.session``): a base model loaded once,
  quantized as the runs were trained, with any number of run adapters; the
  baseline is the model with adapters off, a custom model has one run's on.
- ``Server`` (``engine.infer.server``): the request handler, and the process
  ``python -m engine.infer.server`` that serves it over JSON lines.
- ``InferenceClient`` (``engine.infer.client``): starts that process and
  streams its answers; imports no torch.
- ``engine.infer.protocol``: every request and reply as a frozen dataclass
  with ``to_json``/``from_json``; the session and server emit replies, the
  client returns them, and the CLI and TUI read their attributes.

Protocol (version 1): one JSON object per line on stdin, one per line on
stdout; each answer carries its request's ``id``. Every request gets exactly
one terminal event, last: ``end`` or ``error``
(``{"id", "event": "error", "code", "message"}``).

- ``{"id", "type": "generate", "prompt", "run"?, "models"?, "max_tokens"?,
  "temperature"?, "top_k"?, "top_p"?, "seed"?, "stop"?}``: the models
  generate in one batch, so a ``start`` ``{model, run, prompt_tokens,
  max_tokens, seed}`` per model comes first, then their ``token`` ``{model,
  text}`` events interleaved, and each model's ``done`` ``{model, run, text,
  tokens, finish_reason, stop, seed, seconds, time_to_first_token_s,
  tokens_per_s}`` when it ends. Each model samples with its own generator
  seeded with ``seed``: its text does not depend on the other's.
- ``{"id", "type": "likelihood", "text", "prompt"?, "run"?, "models"?}`` or
  ``"texts": [str | {"text", "prompt"?}]``: scored in one batch, then per model, ``scores``
  ``{model, run, avg_logprob, perplexity, scored_tokens, texts: [{avg_logprob,
  perplexity, scored_tokens, tokens: [{text, id, logprob, rank}]}]}``.
- ``{"id", "type": "load", "run", "replace"?}``: ``loaded`` ``{run, ...info}``.
  A run trained on another base model (or quantization) than the loaded one
  is refused with ``base_mismatch``; ``replace: true`` loads its base instead.
- ``{"id", "type": "info"}``: ``info`` ``{protocol, model, model_path, quant,
  device, context, adapters}`` (``adapters``: the attached run ids).
- ``{"id", "type": "cancel", "target"}``: answered at once, ``end``
  ``{cancelled: bool}``; the target's ``done`` says ``finish_reason: cancelled``.

``models`` defaults to ``["baseline", "custom"]`` with a run, ``["baseline"]``
without; a request naming a run loads its base model and adapter if needed,
emitting ``loading`` ``{what}`` first. Error codes: ``bad_json``,
``bad_request``, ``unknown_type``, ``unknown_run``, ``not_ready``,
``base_mismatch``, ``too_long``, ``no_model``, ``model``, ``cancelled``,
``internal``. The process says ``ready`` ``{pid, ...info}`` (id null) once
started; it ends when stdin closes.
"""

from engine.infer.client import InferenceClient, InferenceError
from engine.infer.requests import MODELS, RequestError

__all__ = ["MODELS", "InferenceClient", "InferenceError", "RequestError"]
