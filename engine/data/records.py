"""One record (a JSON object, a table row) in any of the ecosystem's layouts, as a ``Raw`` example.

The layouts people publish training data in differ only in key names:
plain ``text``; ``prompt``/``completion``; OpenAI chat ``messages`` (with
``name``, ``weight``, ``tool_calls``, content parts and ``tools``); ShareGPT
``conversations`` of ``from``/``value``; Alpaca ``instruction``/``input``/
``output`` with ``system`` and ``history``; question/answer pairs; and
preference data (``chosen``/``rejected``). The first record decides the
layout (or the user forces it), and every record goes through the same
normaliser, whatever file it came from, so JSON, JSON Lines, CSV, TSV and
Parquet all give the same examples.

A map (``prompt=Frage,completion=Antwort``) names the columns that hold the
fields. It takes the question/answer layouts' own words for the two halves
of a pair (``QA_PAIRS``: question, query, instruction, input for the prompt;
answer, response, output for the completion), as people write them and as
the layouts read them, except that instruction and output together keep
their Alpaca meaning. A record or header with none of the known columns is
refused with the map that most likely fixes it, written out from its
columns.

A pair read from two columns named for their roles (a question/answer
layout, or columns named in the map) is joined with a newline where nothing
separates them, the cell before ending and the one after starting with no
space or newline: such cells were written as separate fields, and without
a chat template training puts the completion straight after the prompt
("lighthouse.The Glass"). The newline goes at the end of the prompt, which
is context, so what the model learns to say is the cell as written; it is
the separator finetui's own chat template puts between turns. The report
notes how many pairs were joined. A ``prompt``/``completion`` record is
trained as written: that layout is the user's own concatenation (OpenAI's
legacy format, TRL's), where "2+2=" then "4" is meant; the ``runs_together``
warning flags the pairs that meet mid-word.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from engine.data.errors import DataError
from engine.data.examples import Message
from engine.data.raw import ParseState, Raw

#: Names the ecosystem gives the chat roles, lower-cased (Cohere's User/Chatbot, ShareGPT's human/gpt, ...).
ROLE_ALIASES = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "human": "user",
    "prompter": "user",
    "assistant": "assistant",
    "gpt": "assistant",
    "chatbot": "assistant",
    "bot": "assistant",
    "model": "assistant",
    "tool": "tool",
    "observation": "tool",
    "function": "tool",
    "ipython": "tool",
    "function_call": "assistant",
}
#: Keys a chat turn may carry (OpenAI's fine-tuning format and ShareGPT's); others get the ``unknown_key`` warning.
TURN_KEYS = frozenset({"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call", "refusal", "from", "value"})
#: Question/answer key pairs, tried in order.
QA_PAIRS = (("question", "answer"), ("query", "response"), ("instruction", "response"), ("input", "output"))
#: Fields a ``--map`` may fill.
MAP_TARGETS = ("text", "prompt", "completion", "messages", "conversations", "instruction", "input", "output", "system", "chosen", "rejected", "tools")
#: The words a map may use for the halves of a pair: the question/answer layouts' own keys, as the prompt and the completion.
PAIR_WORDS = {question: "prompt" for question, _ in QA_PAIRS} | {answer: "completion" for _, answer in QA_PAIRS}
#: Put between a prompt and a completion read from two columns when nothing separates them: the line break
#: finetui's own chat template puts between turns.
PAIR_SEPARATOR = "\n"
#: Longest column name a suggested map offers: a longer "name" is a line of text read as a header.
MAX_NAME = 64
#: Columns that number the rows rather than hold text: never offered as a field in a suggested map.
ROW_NUMBERS = frozenset({"id", "idx", "index", "row", "no", "nr", "#"})
#: What a layout reads, for the error on a header or record that has none of it.
KNOWN = "it reads text, prompt and completion, question and answer, instruction and output, chosen and rejected, messages or conversations"
#: Every key some layout reads: a table column by one of these names must not repeat, or one of the two cells would be lost.
READ_KEYS = frozenset(MAP_TARGETS) | {key for pair in QA_PAIRS for key in pair} | {"history"}
#: The two halves of a preference pair: a record with one of them is preference data missing the other.
PAIR = ("chosen", "rejected")


def parse_mapping(path: Path, mapping: str | None) -> dict[str, str]:
    """``"prompt=question,completion=answer"`` as ``{"prompt": "question", ...}``, checked, each field by its own name.

    ``question=Frage`` fills ``prompt`` (``PAIR_WORDS``), unless the map names
    both instruction and output: then it describes Alpaca records, and
    instruction, input and output keep their Alpaca meaning.
    """
    entries: list[tuple[str, str, str]] = []
    for part in (mapping or "").split(","):
        if not part.strip():
            continue
        target, sep, source = part.partition("=")
        target, source = target.strip(), source.strip()
        if not sep or not target or not source:
            raise DataError(path, f"bad map entry {part.strip()!r}: write FIELD=COLUMN, e.g. prompt=question", code="bad_mapping")
        if target not in MAP_TARGETS and target not in PAIR_WORDS:
            words = ", ".join(w for w in PAIR_WORDS if w not in MAP_TARGETS)
            fields = f"{', '.join(MAP_TARGETS)} ({words} for prompt and completion)"
            raise DataError(path, f"bad map entry {part.strip()!r}: {target!r} is not one of {fields}", code="bad_mapping")
        entries.append((target, source, f"{target}={source}"))
    alpaca = {"instruction", "output"} <= {target for target, _, _ in entries}
    out: dict[str, str] = {}
    written: dict[str, str] = {}
    for target, source, entry in entries:
        field = target if alpaca and target in MAP_TARGETS else PAIR_WORDS.get(target, target)
        if field in out:  # the last would win in silence, and the other column would be read as nothing
            raise DataError(path, f"the map fills {field!r} twice ({written[field]}, {entry})", code="bad_mapping")
        out[field], written[field] = source, entry
    return out


def usable_columns(names: list[str]) -> list[str]:
    """The columns a suggested map may name.

    Not row numbers, not unnamed (pandas' index), nothing the map can't hold
    (a comma, an equals sign), and nothing that reads as text rather than a
    name: no letter or digit (a JSON brace), or longer than ``MAX_NAME``.
    """
    return [
        n
        for n in names
        if n.lower() not in ROW_NUMBERS
        and not n.lower().startswith("unnamed:")
        and not set(n) & set(",=")
        and any(c.isalnum() for c in n)
        and len(n) <= MAX_NAME
    ]


def suggest_map(names: list[str]) -> str | None:
    """The map a header or record with none of the known columns most likely means, or None.

    Its one text column as ``text``; else its first two as prompt and
    completion, the layout most tables of two or more text columns are in.
    """
    usable = usable_columns(names)
    if not usable:
        return None
    return f"text={usable[0]}" if len(usable) == 1 else f"prompt={usable[0]},completion={usable[1]}"


def _json_type(value: object) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def detect_shape(obj: dict[str, Any]) -> str | None:
    """The layout a record's keys say it is in, or None."""
    keys = set(obj)
    if "messages" in keys:
        return "messages"
    if "conversations" in keys:
        return "sharegpt"
    if {"chosen", "rejected"} <= keys:
        return "preference"
    if {"instruction", "output"} <= keys:
        return "alpaca"
    if "prompt" in keys or "completion" in keys:
        return "prompt_completion"
    if any({q, a} <= keys for q, a in QA_PAIRS):
        return "qa"
    if "text" in keys:
        return "text"
    return None


def nested_records(obj: dict[str, Any]) -> str | None:
    """The key of a list of records inside ``obj`` (``{"data": [{...}, ...]}``, as some exports wrap them), or None."""
    for key, value in obj.items():
        if isinstance(value, list) and value and isinstance(value[0], dict) and detect_shape(value[0]) is not None:
            return key
    return None


#: Columns a table needs for each layout (question/answer pairs accept any of ``QA_PAIRS``).
REQUIRED = {
    "text": ("text",),
    "prompt_completion": ("prompt", "completion"),
    "alpaca": ("instruction", "output"),
    "preference": ("chosen", "rejected"),
}


class Normaliser:
    """Turns records into ``Raw`` examples for one file; remembers the layout between records."""

    def __init__(self, path: Path, state: ParseState, forced: str | None = None, mapping: dict[str, str] | None = None) -> None:
        self.path = path
        self.state = state
        self.mapping = mapping or {}
        if forced is not None:
            state.flavour = forced

    def __call__(self, obj: dict[str, Any], line: int) -> Raw:
        if self.mapping:
            obj = self._mapped(obj, line)
        if not self.state.flavour:
            shape = detect_shape(obj)
            nested = None if shape is not None else nested_records(obj)
            if nested is not None:
                raise DataError(
                    self.path,
                    "holds a list of records, and finetui reads records at the top: a JSON array of them, or JSON Lines; "
                    f"save that list on its own first (jq -c '.{nested}[]' FILE > records.jsonl)",
                    line=line,
                    field=nested,
                    code="nested_records",
                )
            if shape is None:
                self._check_pair(obj, line, "record")
                raise self._unknown(sorted(obj), [k for k, v in obj.items() if isinstance(v, str)], line, "field", "the record")
            self.state.flavour = shape
        try:
            return getattr(self, f"_{self.state.flavour}")(obj, line)
        except DataError as exc:
            if exc.code == "missing_field" and exc.field is not None and not any(c in exc.field for c in ".["):
                self._check_pair(obj, line, "record")  # "'completion' is missing" would hide what the record is
            raise

    def _check_pair(self, keys: dict[str, Any], line: int, where: str) -> None:
        """Refuse a record or header with one half of a preference pair, naming the other half."""
        for have, lack in (PAIR, PAIR[::-1]):
            if have in keys and lack not in keys:
                raise DataError(
                    self.path,
                    f"is missing: the {where} has {have!r} but no {lack!r} (preference data needs both)",
                    line=line,
                    field=lack,
                    code="missing_field",
                )

    def check_unique(self, names: list[str], line: int | None, where: str) -> None:
        """Refuse a column finetui reads that ``where`` (a header, a schema) names twice.

        A record holds only one of the two cells, and the other would be lost
        in silence. Unnamed columns (pandas' index, Excel's trailing empty
        cells) and repeated columns nobody reads are fine.
        """
        read = READ_KEYS | set(self.mapping.values())
        seen: dict[str, int] = {}
        for column, name in enumerate(names, start=1):
            if name in seen and name in read:
                raise DataError(self.path, f"column {name!r} appears twice in {where} (columns {seen[name]} and {column})", line=line, code="duplicate_column")
            seen.setdefault(name, column)

    def check_header(self, names: list[str], line: int, shown: list[str] | None = None) -> None:
        """Fix the layout from a table's header row, so a missing column is named at the header's line.

        ``names`` are matched (lower case); ``shown`` are the names as the
        header writes them, for the error and the map it suggests.
        """
        shown = shown or names
        self.check_unique(names, line, "the header")
        if self.state.flavour:
            return
        present = {n: "" for n in names}
        columns = self._mapped(present, line) if self.mapping else present
        shape = detect_shape(columns)
        if shape is None:
            self._check_pair(columns, line, "header")
            raise self._unknown(shown, [s for s, n in zip(shown, names, strict=True) if n not in self.mapping.values()], line, "column", "the header row")
        for name in REQUIRED.get(shape, ()):
            if name not in names and name not in self.mapping:
                self._check_pair(columns, line, "header")
                taken = set(REQUIRED[shape]) | set(self.mapping.values())
                spare = usable_columns([s for s, n in zip(shown, names, strict=True) if n not in taken])
                as_written = dict(zip(names, shown, strict=True))  # a table's map is matched in lower case
                given = [f"{target}={as_written.get(source, source)}" for target, source in self.mapping.items()]
                fix = ",".join([*given, f"{name}={spare[0]}"]) if spare else None
                raise DataError(self.path, "is missing from the header row", line=line, field=name, code="missing_field", suggested_map=fix)
        self.state.flavour = shape

    def _unknown(self, found: list[str], candidates: list[str], line: int, noun: str, where: str) -> DataError:
        """The error for a record or header with no field a layout reads, and the map its ``candidates`` most likely mean."""
        suggested = suggest_map(candidates) if not self.mapping else None
        listed = ", ".join(found) or "none"
        fallback = "" if suggested is not None else "; name yours in the map, e.g. prompt=COLUMN,completion=COLUMN"
        return DataError(
            self.path,
            f"no {noun} finetui knows in {where} (found: {listed}; {KNOWN}){fallback}",
            line=line,
            code="missing_field",
            suggested_map=suggested,
        )

    def _mapped(self, obj: dict[str, Any], line: int) -> dict[str, Any]:
        out = {k: v for k, v in obj.items() if k not in self.mapping.values()}
        for target, source in self.mapping.items():
            if source not in obj:
                raise DataError(self.path, f"is missing (the map says {target}={source})", line=line, field=source, code="missing_field")
            out[target] = obj[source]
        return out

    # --- helpers --------------------------------------------------------------------------------

    def _error(self, line: int, field: str, message: str, code: str = "bad_field") -> DataError:
        return DataError(self.path, message, line=line, field=field, code=code)

    def _string(self, obj: dict[str, Any], name: str, line: int, *, optional: bool = False) -> str:
        value = obj.get(name)
        # NaN is how pandas marks a missing value, and json.dump writes it so (Python's json reads it, and Infinity,
        # and 1e400 as infinity): an optional field holding it is absent, a required one is refused, never the text "nan".
        nan = isinstance(value, float) and math.isnan(value)
        if name not in obj or (optional and (value is None or nan)):
            if optional:
                return ""
            raise self._error(line, name, "is missing", "missing_field")
        if isinstance(value, float) and not math.isfinite(value):
            raise self._error(line, name, "must be a string, not NaN (pandas' mark of a missing value)" if nan else "must be a string, not an infinite number")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # a table cell or a JSON number: "42" is a fine answer
        if not isinstance(value, str):
            raise self._error(line, name, f"must be a string, not {_json_type(value)}")
        return value

    def _tools(self, obj: dict[str, Any], line: int) -> tuple[dict[str, Any], ...]:
        tools = obj.get("tools")
        if tools is None or tools == "":
            return ()
        if isinstance(tools, str):  # ShareGPT (LLaMA-Factory) keeps the tools as a JSON string
            try:
                tools = json.loads(tools)
            except (ValueError, RecursionError):
                raise self._error(line, "tools", "must be a JSON list of tools") from None
        if isinstance(tools, dict):
            tools = [tools]
        if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
            raise self._error(line, "tools", f"must be a list of tool objects, not {_json_type(tools)}")
        return tuple(tools)

    def _content(self, value: object, line: int, where: str) -> str | None:
        """A turn's content as text: a string, or OpenAI's list of text parts; None when absent."""
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            texts = []
            for i, part in enumerate(value):
                if isinstance(part, str):
                    texts.append(part)
                elif not isinstance(part, dict):
                    raise self._error(line, f"{where}.content[{i}]", f"must be a string or a text part, not {_json_type(part)}")
                elif part.get("type", "text") != "text":
                    raise self._error(line, f"{where}.content[{i}]", f"is a part of type {part.get('type')!r}; only text parts can be trained on")
                elif not isinstance(part.get("text"), str):
                    missing = "text" not in part
                    message = "is missing" if missing else f"must be a string, not {_json_type(part['text'])}"
                    raise self._error(line, f"{where}.content[{i}].text", message, "missing_field" if missing else "bad_field")
                else:
                    texts.append(part["text"])
            return "".join(texts)
        raise self._error(line, f"{where}.content", f"must be a string or a list of text parts, not {_json_type(value)}")

    def _tool_calls(self, value: object, line: int, where: str) -> tuple[dict[str, Any], ...]:
        if value is None:
            return ()
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            raise self._error(line, f"{where}.tool_calls", f"must be a list of calls, not {_json_type(value)}")
        calls = []
        for i, call in enumerate(value):
            function = call.get("function", call) if isinstance(call, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise self._error(line, f"{where}.tool_calls[{i}]", "needs a function with a name")
            arguments = function.get("arguments", {})
            if isinstance(arguments, str):
                try:
                    arguments = json.loads(arguments)
                except (ValueError, RecursionError):
                    pass  # kept as written: the template shows it as is
            out = {"type": "function", "function": {"name": function["name"], "arguments": arguments}}
            if isinstance(call, dict) and isinstance(call.get("id"), str):
                out["id"] = call["id"]
            calls.append(out)
        return tuple(calls)

    def _turns(self, value: object, line: int, field: str, role_key: str, content_key: str) -> tuple[tuple[Message, ...], set[str]]:
        """Chat turns and the check codes they raise (unknown keys, empty content)."""
        if not isinstance(value, list):
            raise self._error(line, field, f"must be a list of turns, not {_json_type(value)}")
        turns: list[Message] = []
        issues: set[str] = set()
        for i, turn in enumerate(value):
            where = f"{field}[{i}]"
            if not isinstance(turn, dict):
                raise self._error(line, where, f"must be an object, not {_json_type(turn)}")
            if role_key not in turn:
                raise self._error(line, f"{where}.{role_key}", "is missing", "missing_field")
            raw_role = turn[role_key]
            if not isinstance(raw_role, str):
                raise self._error(line, f"{where}.{role_key}", f"must be a string, not {_json_type(raw_role)}")
            role = ROLE_ALIASES.get(raw_role.strip().lower())
            if role is None:
                known = "system, user, assistant, tool (or human, gpt, chatbot, observation, ...)"
                raise self._error(line, f"{where}.{role_key}", f"must be one of {known}, not {raw_role!r}", "unknown_role")
            if set(turn) - TURN_KEYS:
                issues.add("unknown_key")
            content = self._content(turn.get(content_key), line, where)
            calls = self._tool_calls(turn.get("tool_calls"), line, where)
            if raw_role.strip().lower() == "function_call":  # ShareGPT: the value is the call, as JSON
                try:
                    call = json.loads(content or "")
                except (ValueError, RecursionError):
                    raise self._error(line, f"{where}.{content_key}", "must be a JSON function call ({\"name\", \"arguments\"})") from None
                calls = self._tool_calls(call, line, where)
                content = ""
            if not calls and turn.get("function_call") is not None:
                calls = self._tool_calls(turn["function_call"], line, where)
            if (content is None or not content.strip()) and not calls:
                issues.add("empty_content")
            weight = turn.get("weight")
            if weight is not None and (isinstance(weight, bool) or weight not in (0, 1)):
                raise self._error(line, f"{where}.weight", f"must be 0 or 1, not {weight!r}")
            name = turn.get("name")
            call_id = turn.get("tool_call_id")
            turns.append(
                Message(
                    role,
                    content or "",
                    name=name if isinstance(name, str) else None,
                    weight=weight,
                    tool_calls=calls,
                    tool_call_id=call_id if isinstance(call_id, str) else None,
                )
            )
        return tuple(turns), issues

    def _chat(self, line: int, turns: tuple[Message, ...], issues: set[str], tools: tuple[dict[str, Any], ...] = ()) -> Raw:
        issues |= chat_issues(turns)
        return Raw(line, "messages", messages=turns, tools=tools, issues=tuple(sorted(issues)))

    # --- one method per layout --------------------------------------------------------------------

    def _text(self, obj: dict[str, Any], line: int) -> Raw:
        return Raw(line, "text", text=self._string(obj, "text", line))

    def _pair(self, line: int, prompt: str, completion: str, *, columns: bool) -> Raw:
        """A prompt/completion pair; from two columns named for their roles, with ``PAIR_SEPARATOR`` where nothing separates them."""
        if columns and prompt and completion and not prompt[-1].isspace() and not completion[0].isspace():
            prompt += PAIR_SEPARATOR
            self.state.joined += 1
        return Raw(line, "prompt_completion", prompt=prompt, completion=completion)

    def _prompt_completion(self, obj: dict[str, Any], line: int) -> Raw:
        mapped = "prompt" in self.mapping or "completion" in self.mapping
        return self._pair(line, self._string(obj, "prompt", line), self._string(obj, "completion", line), columns=mapped)

    def _qa(self, obj: dict[str, Any], line: int) -> Raw:
        for q, a in QA_PAIRS:
            if q in obj and a in obj:
                return self._pair(line, self._string(obj, q, line), self._string(obj, a, line), columns=True)
        raise self._error(line, "answer", "is missing (question/answer pairs need question/answer, query/response or instruction/response)", "missing_field")

    def _messages(self, obj: dict[str, Any], line: int) -> Raw:
        if "messages" not in obj:
            raise self._error(line, "messages", "is missing", "missing_field")
        turns, issues = self._turns(obj["messages"], line, "messages", "role", "content")
        return self._chat(line, turns, issues, self._tools(obj, line))

    def _sharegpt(self, obj: dict[str, Any], line: int) -> Raw:
        if "conversations" not in obj:
            raise self._error(line, "conversations", "is missing", "missing_field")
        convo = obj["conversations"]
        first = convo[0] if isinstance(convo, list) and convo else {}
        keys = ("from", "value") if isinstance(first, dict) and "from" in first else ("role", "content")
        turns, issues = self._turns(convo, line, "conversations", *keys)
        system = self._string(obj, "system", line, optional=True)
        if system.strip():
            turns = (Message("system", system), *turns)
        return self._chat(line, turns, issues, self._tools(obj, line))

    def _alpaca(self, obj: dict[str, Any], line: int) -> Raw:
        instruction = self._string(obj, "instruction", line)
        given = self._string(obj, "input", line, optional=True)
        output = self._string(obj, "output", line)
        system = self._string(obj, "system", line, optional=True)
        turns: list[Message] = [Message("system", system)] if system.strip() else []
        history = obj.get("history") or []
        if not isinstance(history, list) or not all(isinstance(h, list) and len(h) == 2 and all(isinstance(x, str) for x in h) for h in history):
            raise self._error(line, "history", "must be a list of [instruction, response] pairs")
        for asked, answered in history:
            turns += [Message("user", asked), Message("assistant", answered)]
        # An empty instruction with a filled input is normal in published sets: the input is the request.
        user = "\n\n".join(part for part in (instruction, given) if part.strip())
        turns += [Message("user", user), Message("assistant", output)]
        issues = {"empty_content"} if not user.strip() or not output.strip() else set()
        return self._chat(line, tuple(turns), issues)

    def _preference(self, obj: dict[str, Any], line: int) -> Raw:
        """Supervised fine-tuning on preference data learns the prompt plus the chosen answer."""
        if "chosen" not in obj:
            raise self._error(line, "chosen", "is missing", "missing_field")
        chosen, prompt = obj["chosen"], obj.get("prompt")
        if isinstance(chosen, list):
            context: tuple[Message, ...] = ()
            issues: set[str] = set()
            if isinstance(prompt, list):
                context, issues = self._turns(prompt, line, "prompt", "role", "content")
            elif isinstance(prompt, str) and prompt.strip():
                context = (Message("user", prompt),)
            answer, more = self._turns(chosen, line, "chosen", "role", "content")
            return self._chat(line, context + answer, issues | more, self._tools(obj, line))
        if not isinstance(chosen, str):
            raise self._error(line, "chosen", f"must be a string or a list of turns, not {_json_type(chosen)}")
        if prompt is None or prompt == "":
            return Raw(line, "text", text=chosen)  # the shared conversation is part of each answer
        return Raw(line, "prompt_completion", prompt=self._string(obj, "prompt", line), completion=chosen)


def chat_issues(turns: tuple[Message, ...]) -> set[str]:
    """The checks of OpenAI's fine-tuning data-prep guide that a conversation fails, as codes."""
    issues: set[str] = set()
    roles = [t.role for t in turns]
    if "assistant" not in roles:
        issues.add("no_assistant")
    if "user" not in roles:
        issues.add("no_user")
    if any(r == "system" for r in roles[1:]):
        issues.add("system_not_first")
    if any(a == b and a != "tool" for a, b in zip(roles, roles[1:], strict=False)):
        issues.add("same_role_twice")
    if roles and roles[-1] == "user":
        issues.add("ends_on_user")
    return issues
