"""A private tmux server for the TUI benches, driven through one control-mode client.

``bench/tui_startup.py`` and ``bench/tui_latency.py`` run a command in a real
80x24 terminal and watch its screen. Each tmux command (start a session, send
keys, capture the pane) goes down one ``tmux -C`` pipe instead of forking a
``tmux`` client per call: a capture costs about 0.05 ms instead of about 6 ms,
so a poll loop can look at the screen every couple of milliseconds and the
figures are not made of tmux's own start-up time.

The server has its own socket (``tmux -L finetui-bench-PID-...``) and no
configuration file, so it never touches the user's tmux; leaving the ``with``
block kills that server and every process in its panes.

    with TmuxServer("startup") as tmux:
        pane = tmux.start("run1", ["python", "-m", "tui.cli"], cwd=REPO, env={"FINETUI_HOME": home})
        elapsed = pane.wait_for(lambda lines: any("Files in" in line for line in lines))
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 80, 24
#: What the panes say they are: tmux's own terminal description.
TERM = "tmux-256color"
#: Packages the first screen must not load (the README: "Nothing here imports torch, transformers or peft").
HEAVY = ("torch", "transformers", "peft", "bitsandbytes", "accelerate", "tokenizers", "safetensors")


class TmuxError(RuntimeError):
    """tmux answered a command with an error, or went away."""


def require_tmux() -> str:
    """The tmux executable, or exit with a clear message (status 2) when it is not installed."""
    path = shutil.which("tmux")
    if path is None:
        sys.stderr.write("error: tmux is not installed (apt-get install tmux); it is needed to measure in a real terminal\n")
        raise SystemExit(2)
    return path


def finetui_command() -> list[str]:
    """How a user starts finetui: the console script next to this interpreter, else the one on PATH.

    The one next to ``sys.executable`` comes first so that a version manager's
    shim (pyenv's is a bash script that runs ``pyenv exec``) is not timed.
    Failing both, ``python -m tui.cli``, which runs the same ``main``.
    """
    beside = Path(sys.executable).parent / "finetui"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("finetui")
    return [found] if found else [sys.executable, "-m", "tui.cli"]


def repo_python_path() -> str:
    """``PYTHONPATH`` for the children: this checkout first, so they run its ``tui`` and ``engine``.

    The console script imports ``tui.cli`` through whatever the editable
    install points at; with the checkout on ``PYTHONPATH`` (searched before
    the editable finder) the bench measures the code next to it, even from a
    copy of the repository or when the install points elsewhere.
    """
    return os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, and the CPU count, as one line."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) process ``pid`` has used so far, from ``/proc/PID/stat``; None once it is gone.

    Unlike wall time it hardly grows when other processes compete for the
    CPUs, so it is the steadier figure on a busy machine (10 ms ticks).
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mapped_heavy_libraries(pid: int) -> list[str]:
    """The packages in ``HEAVY`` with a file mapped into process ``pid`` (``/proc/PID/maps``).

    A package shows up once one of its shared objects (``libtorch_cpu.so``,
    ``tokenizers.abi3.so``...) is loaded. Pure-Python packages (transformers,
    peft) have none of their own; importing peft loads torch, which shows.
    """
    pattern = re.compile(r"/(?:site|dist)-packages/(" + "|".join(map(re.escape, HEAVY)) + r")(?:[./_-]|$)")
    found: set[str] = set()
    with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as maps:
        for line in maps:
            match = pattern.search(line)
            if match:
                found.add(match.group(1))
    return sorted(found)


@dataclass
class Wait:
    """The outcome of ``Pane.wait_for``: seconds from ``since``, the screen then, and how often it was looked at."""

    elapsed: float
    lines: list[str]
    polls: int
    poll_span: float = field(default=0.0)
    """Seconds between the first and the last look."""


class TmuxServer:
    """A tmux server of our own with one control-mode client attached to an idle session."""

    def __init__(self, label: str) -> None:
        self.tmux = require_tmux()
        self.socket = f"finetui-bench-{os.getpid()}-{label}"
        self.base = [self.tmux, "-L", self.socket, "-f", os.devnull]
        self.client: subprocess.Popen[str] | None = None
        self.socket_path: Path | None = None

    def __enter__(self) -> TmuxServer:
        # The idle session only holds the control client; the measured ones are separate sessions.
        subprocess.run([*self.base, "new-session", "-d", "-s", "_control", "-x", str(WIDTH), "-y", str(HEIGHT), "sleep 86400"], check=True)
        self.client = subprocess.Popen(
            [*self.base, "-C", "attach-session", "-t", "_control"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._read_reply()  # the reply to attach-session itself
        self.socket_path = Path(self.command("display-message", "-p", "#{socket_path}")[0])
        self.command("refresh-client", "-f", "no-output")  # no %output notifications: we capture instead
        self.command("set-option", "-s", "default-terminal", TERM)
        self.command("set-option", "-s", "escape-time", "0")  # pass Escape on at once, as a terminal does
        self.command("set-option", "-g", "-w", "remain-on-exit", "on")  # keep a crashed command's last screen
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Kill the server (and so every pane's process), reap the control client, remove the socket."""
        subprocess.run([*self.base, "kill-server"], capture_output=True)
        if self.client is not None:
            try:
                self.client.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.client.kill()
            self.client = None
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)

    @property
    def version(self) -> str:
        return subprocess.run([self.tmux, "-V"], capture_output=True, text=True).stdout.strip()

    def command(self, *args: str) -> list[str]:
        """Run one tmux command through the control client; its output lines. Raises ``TmuxError``."""
        if self.client is None or self.client.stdin is None:
            raise TmuxError("the tmux server is not started")
        if any("\n" in a for a in args):
            raise ValueError("a control-mode command is one line: put multi-line code in a file")
        self.client.stdin.write(" ".join(shlex.quote(a) for a in args) + "\n")
        self.client.stdin.flush()
        ok, lines = self._read_reply()
        if not ok:
            raise TmuxError(f"tmux {args[0]}: {' '.join(lines)}")
        return lines

    def _read_reply(self) -> tuple[bool, list[str]]:
        """Read up to the next ``%end``/``%error``, skipping notifications between replies."""
        assert self.client is not None and self.client.stdout is not None
        lines: list[str] = []
        inside = False
        while True:
            raw = self.client.stdout.readline()
            if not raw:
                raise TmuxError("the tmux control client went away")
            line = raw.rstrip("\n")
            if not inside:
                inside = line.startswith("%begin ")
            elif line.startswith(("%end ", "%error ")):
                return line.startswith("%end "), lines
            else:
                lines.append(line)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cwd: Path = REPO,
        env: Mapping[str, str] | None = None,
        unset: Sequence[str] = (),
    ) -> Pane:
        """Start ``argv`` in a new detached WIDTHxHEIGHT session ``name``; returns at once.

        ``env`` is added to the server's environment (this process's) and
        ``unset`` names are removed. ``env`` replaces itself with ``argv``, so
        the pane's process *is* the command (its pid, its ``/proc`` maps).
        The ``Pane.started`` clock reads just before tmux is asked to fork.
        """
        launcher = ["env", *(f"-u{name_}" for name_ in unset), f"TERM={TERM}", *(f"{k}={v}" for k, v in (env or {}).items()), *argv]
        started = time.perf_counter()
        self.command("new-session", "-d", "-s", name, "-x", str(WIDTH), "-y", str(HEIGHT), "-c", str(cwd), *launcher)
        return Pane(self, name, started)


class Pane:
    """One session's only pane: what it shows, keys sent to it, its process."""

    def __init__(self, server: TmuxServer, name: str, started: float) -> None:
        self.server = server
        self.name = name
        self.started = started

    @property
    def pid(self) -> int:
        """The pane's process id (the command itself, since ``env`` execs it)."""
        return int(self.server.command("display-message", "-p", "-t", self.name, "#{pane_pid}")[0])

    def alive(self) -> bool:
        """Whether the pane's process is still running (a dead pane stays, showing its last screen)."""
        try:
            return self.server.command("display-message", "-p", "-t", self.name, "#{pane_dead}") == ["0"]
        except TmuxError:
            return False  # the session is gone

    def capture(self) -> list[str]:
        """The visible screen as plain text, one string a row (no colours or attributes)."""
        return self.server.command("capture-pane", "-p", "-t", self.name)

    def send_keys(self, *keys: str) -> float:
        """Send tmux key names (``Tab``, ``BSpace``, ``C-q``); the clock just before sending."""
        now = time.perf_counter()
        self.server.command("send-keys", "-t", self.name, *keys)
        return now

    def type(self, text: str) -> float:
        """Send ``text`` as literal characters; the clock just before sending."""
        now = time.perf_counter()
        self.server.command("send-keys", "-t", self.name, "-l", text)
        return now

    def wait_for(self, done: Callable[[list[str]], bool], *, since: float, timeout: float = 30.0, poll: float = 0.002) -> Wait:
        """Capture every ``poll`` seconds until ``done(screen)``; seconds from ``since`` to that capture.

        The capture that first shows the change is at most one poll interval
        (plus a capture, about 0.05 ms) after the change itself. Raises
        ``TimeoutError`` after ``timeout`` seconds, or when the pane's process
        ends first (with its last screen: a traceback, say).
        """
        polls = 0
        first = time.perf_counter()
        while True:
            try:
                lines = self.capture()
            except TmuxError as exc:  # the session is gone
                raise TimeoutError(f"{self.name}: the session ended before the screen showed what was expected ({exc})") from None
            now = time.perf_counter()
            polls += 1
            if done(lines):
                return Wait(now - since, lines, polls, now - first)
            if polls % 25 == 0 and not self.alive():
                screen = "\n".join(line for line in self.capture() if line.strip())
                raise TimeoutError(f"{self.name}: the command exited before the screen showed what was expected; its screen:\n{screen}")
            if now - since > timeout:
                raise TimeoutError(f"{self.name}: not on screen after {timeout:.0f} s; the screen was:\n" + "\n".join(lines))
            time.sleep(poll)

    def kill(self) -> None:
        """End the session; tmux sends SIGHUP to its process."""
        try:
            self.server.command("kill-session", "-t", self.name)
        except TmuxError:
            pass  # already gone
