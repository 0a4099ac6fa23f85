"""Load a model folder's config and tokenizer as transformers will, and render its chat template once, in a child process.

``check_model`` reads the folder's files without transformers, so it misses
what only transformers finds: a ``config.json`` field of the wrong type
(``"max_position_embeddings": "abc"``), a tokenizer that doesn't load, a
chat template that raises (``raise_exception``), breaks the sandbox's rules
or never ends. Any of them fails a run in its worker, after it was
"started". ``probe_model`` finds them before a run exists, as one line.

It runs ``python -m engine.models.probe`` because the TUI never imports
transformers (it starts fast), and because a template is untrusted code:
jinja2's sandbox blocks unsafe access and ranges over 100,000 items but has
no time or memory limit, so nested loops would render for ever and
``'x' * 10**10`` would take the memory. The child renders under an alarm
and an address-space limit, and the parent kills it after ``TIMEOUT_S``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from engine.models.errors import ModelError
from engine.models.resolve import ResolvedModel

#: The whole check (importing transformers, loading the config and the tokenizer, rendering) may take this long.
TIMEOUT_S = 120.0
#: The template's render may take this long (a two-turn chat renders in milliseconds).
RENDER_S = 10
#: Memory the render may allocate on top of what the process holds.
RENDER_BYTES = 1 << 30
#: The conversation rendered: what training and the playground render, in small.
SAMPLE = [{"role": "user", "content": "Hello, who are you?"}, {"role": "assistant", "content": "A helpful assistant."}]
#: The files whose change can change the answer: the check is not repeated while none changes.
_INPUTS = ("config.json", "tokenizer_config.json", "tokenizer.json", "special_tokens_map.json", "chat_template.jinja", "chat_template.json")

#: Verdicts kept in ``$FINETUI_HOME/cache``: the check takes seconds (transformers imports torch), its answer only changes with the files.
CACHE_FILE = "model-checks.json"
#: At most this many verdicts are kept, the newest.
CACHE_ENTRIES = 64

#: This process's verdicts, by ``_key``: a process that checks again (the CLI and then the launch) reads no file.
_seen: dict[str, str | None] = {}


def probe_model(resolved: ResolvedModel, trust_remote_code: bool = False, timeout: float = TIMEOUT_S) -> None:
    """``ModelError`` (one line, naming the file) if transformers can't load the folder's config or tokenizer, or its chat template fails.

    The bundled models ship with finetui and are checked by its tests, so
    they are not probed. A verdict is kept (``CACHE_FILE``) while the
    folder's files, the trust setting and the transformers version stay the
    same: the TUI checks as a model is chosen and again at Launch, and a
    second ``finetui train`` on the same model takes no extra seconds.
    """
    if resolved.source == "bundled":
        return
    folder = resolved.path
    key = _key(folder, trust_remote_code)
    if key not in _seen:
        known = _read_cache()
        if key in known:
            _seen[key] = known[key]
        else:
            problem, lasting = _run_child(folder, trust_remote_code, timeout)
            if not lasting:  # a timeout: the machine may only be busy, so the next check tries again
                raise ModelError(problem or "", code="not_a_model")
            _remember(key, problem)
            _seen[key] = problem
    problem = _seen[key]
    if problem is not None:
        raise ModelError(problem, code="not_a_model")


def _key(folder: Path, trust_remote_code: bool) -> str:
    """What the verdict depends on, as one string: the folder, the trust, each input file's time and size, transformers' version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        transformers = version("transformers")
    except PackageNotFoundError:
        transformers = None
    return json.dumps([str(folder), trust_remote_code, transformers, *(_stamp(folder / name) for name in _INPUTS)])


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _cache_path() -> Path:
    from engine.paths import home

    return home() / "cache" / CACHE_FILE


def _read_cache() -> dict[str, str | None]:
    """The kept verdicts; none when the file is missing or unreadable (the check just runs)."""
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if v is None or isinstance(v, str)}


def _remember(key: str, problem: str | None) -> None:
    """Keep a verdict, best effort: a home that can't be written costs only the next check's seconds."""
    from engine.files import write_json_atomic

    known = _read_cache()
    known.pop(key, None)
    known[key] = problem
    path = _cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, dict(list(known.items())[-CACHE_ENTRIES:]))
    except OSError:
        pass


def _run_child(folder: Path, trust_remote_code: bool, timeout: float) -> tuple[str | None, bool]:
    """The child's verdict (None when fine, else the problem) and whether it lasts: a timeout may only mean a busy machine."""
    command = [sys.executable, "-m", "engine.models.probe", str(folder), *(["--trust-remote-code"] if trust_remote_code else [])]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error", "TOKENIZERS_PARALLELISM": "false"}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        stage = _last(out).get("stage", "")
        doing = "loading its config and tokenizer" if stage != "template" else "rendering its chat template"
        return f"checking the model in {folder} took over {timeout:.0f} s ({doing}); try again, or choose another model", False
    except OSError as exc:
        return f"cannot start the model check ({exc.strerror or exc})", False
    verdict = _last(done.stdout)
    if "error" in verdict:
        return str(verdict["error"]), True
    if verdict.get("ok"):
        return None, True
    tail = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
    return f"the model check of {folder} ended without an answer ({one_line(Exception(tail))})", False


def _last(out: str) -> dict[str, Any]:
    """The child's last JSON line."""
    for line in reversed(out.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


# --- in the child -----------------------------------------------------------------------------------


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's text on one line (transformers' validation errors span two), cut to ``limit`` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_folder(folder: Path, trust_remote_code: bool, say: Any = lambda stage: None) -> None:
    """Load the config and the tokenizer as a run does, then render the chat template; ``ModelError`` for the first failure."""
    say("import")
    from transformers import AutoConfig, AutoTokenizer

    say("config")
    try:
        AutoConfig.from_pretrained(folder, trust_remote_code=trust_remote_code)
    except Exception as exc:  # transformers raises many kinds for a bad config: each is the config's fault
        raise ModelError(f"{folder / 'config.json'}: {one_line(exc)}", code="not_a_model") from None
    say("tokenizer")
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
    except Exception as exc:
        raise ModelError(f"the tokenizer in {folder} does not load: {one_line(exc)}", code="not_a_model") from None
    template = tokenizer.chat_template
    if isinstance(template, dict):  # named templates: the run uses "default", else the first (engine.train.templates)
        template = template.get("default") or next(iter(template.values()), None)
    if not template:
        return
    say("template")
    try:
        with _limits():
            for turns, prompt in ((SAMPLE, False), (SAMPLE[:1], True)):
                tokenizer.apply_chat_template(turns, chat_template=template, tokenize=False, add_generation_prompt=prompt)
    except _RenderTimeout:
        raise ModelError(f"the chat template in {_template_file(folder)} did not finish rendering a two-message chat in {RENDER_S} s",
                         code="not_a_model") from None
    except MemoryError:
        raise ModelError(f"the chat template in {_template_file(folder)} takes over {RENDER_BYTES >> 30} GiB to render a two-message chat",
                         code="not_a_model") from None
    except Exception as exc:  # the template's own raise_exception, the sandbox's SecurityError, "Range too big", a TypeError
        raise ModelError(f"the chat template in {_template_file(folder)} fails on a two-message chat: {type(exc).__name__}: {one_line(exc)}",
                         code="not_a_model") from None


def _template_file(folder: Path) -> Path:
    """Where the folder's chat template comes from, as transformers looks for it."""
    for name in ("chat_template.jinja", "chat_template.json"):
        if (folder / name).is_file():
            return folder / name
    return folder / "tokenizer_config.json"


class _RenderTimeout(Exception):
    pass


class _limits:
    """An alarm after ``RENDER_S`` and an address-space cap ``RENDER_BYTES`` above the current size, while the template renders."""

    def __enter__(self) -> None:
        import resource
        import signal

        def ring(signum: int, frame: Any) -> None:
            raise _RenderTimeout

        self._old_handler = signal.signal(signal.SIGALRM, ring)
        self._old_limit = resource.getrlimit(resource.RLIMIT_AS)
        size = _address_space()
        if size is not None:
            soft, hard = size + RENDER_BYTES, self._old_limit[1]
            if hard == resource.RLIM_INFINITY or soft <= hard:
                resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.alarm(RENDER_S)

    def __exit__(self, *exc: object) -> None:
        import resource
        import signal

        signal.alarm(0)
        signal.signal(signal.SIGALRM, self._old_handler)
        resource.setrlimit(resource.RLIMIT_AS, self._old_limit)


def _address_space() -> int | None:
    """This process's virtual size in bytes (Linux), or None where it can't be read."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def main(argv: list[str] | None = None) -> int:
    """Print a JSON line per stage, then ``{"ok": true}`` or ``{"error": ...}``."""
    parser = argparse.ArgumentParser(prog="python -m engine.models.probe", description="check a model folder as transformers loads it")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--trust-remote-code", action="store_true")
    args = parser.parse_args(argv)

    def say(stage: str) -> None:
        print(json.dumps({"stage": stage}), flush=True)

    try:
        check_folder(args.folder, args.trust_remote_code, say)
    except ModelError as exc:
        print(json.dumps({"error": exc.message}), flush=True)
        return 0
    print(json.dumps({"ok": True}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
