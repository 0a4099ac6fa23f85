"""The playground's one inference process, shared by its workers and started when first needed.

Starting the process imports torch (seconds), so it starts on the first
request, not with the screen, and then stays up while the screen lives:
later requests pay nothing. A process that died is dropped once, by
whichever thread notices first, and the next request starts a fresh one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from engine.infer import InferenceClient, InferenceError

#: Seconds the process may take to start (import torch and the model stack).
START_TIMEOUT = 300.0


class ClientKeeper:
    """Holds at most one live ``InferenceClient``; thread-safe."""

    def __init__(self) -> None:
        self.closed = False
        """True once the screen is going: no new process starts, and deaths are expected."""
        self._client: InferenceClient | None = None
        self._starting: InferenceClient | None = None
        """A process between its start and its ``ready``, so that ``close`` can stop it too."""
        self._lock = threading.Lock()

    def get(self, on_start: Callable[[], None], on_ready: Callable[[InferenceClient], None]) -> InferenceClient:
        """The live client, started (and waited for) if there is none; blocks, so call it in a worker.

        ``on_start`` runs before a new process starts, ``on_ready`` once it is
        up. Raises ``InferenceError`` if the process can't start.
        """
        with self._lock:
            if self.closed:
                raise InferenceError("the playground is closing", "exited")
            if self._client is not None:
                if self._client.alive:
                    return self._client
                self._client.close(timeout=2)  # reap the dead one before starting another
                self._client = None
            on_start()
            client = self._starting = InferenceClient()
            try:
                client.wait_ready(timeout=START_TIMEOUT)
            except (InferenceError, TimeoutError) as error:
                client.close(timeout=2)
                raise InferenceError(f"the inference process did not start: {error}", "exited") from None
            finally:
                self._starting = None
            if self.closed:
                client.close(timeout=2)
                raise InferenceError("the playground is closing", "exited")
            self._client = client
        on_ready(client)
        return client

    def drop(self, client: InferenceClient) -> bool:
        """Forget ``client`` if it is the current one; True only for the first caller, who reports its death."""
        with self._lock:
            if self._client is not client or self.closed:
                return False
            self._client = None
            return True

    def current(self) -> InferenceClient | None:
        return self._client

    def close(self) -> None:
        """Stop the process (open requests are cancelled), even one still starting, and start no other.

        It takes no lock: a worker may hold it while a process starts, and
        closing must not wait for that.
        """
        self.closed = True
        for client in (self._client, self._starting):
            if client is not None:
                client.close(timeout=5)
