"""Dynamic batching: concurrent requests to one loaded model run together, each caller gets its own answer.

    caller thread ── submit(item, key) ──▶ queue ──┐
        │  the model is idle: this caller leads ◀──┘
        ▼
    leader: takes the model's lock (an adapter load or a stream goes first), waits up to ``window_s`` for more
            requests, takes up to ``max_size`` queued items with the key of the oldest one (FIFO across keys),
            runs them in one ``run(items)``, hands each caller its result (or the batch's error) and steps down
        │
        ▼
    the others wait on the condition; one whose item is still queued leads the next batch.

No thread of its own: a caller waits in the thread it already has (a worker thread of the model's limiter or an
evaluation's), so nothing needs starting or stopping with the model. ``key``: items may share a batch only when
their keys are equal (same adapter, compatible sampling; ``host.batch_key``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["DEFAULT_BATCHING", "DEFAULT_MAX_BATCH", "DEFAULT_WINDOW_S", "Batcher", "Batching"]

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_MAX_BATCH = 8  # enough to fill a CPU's matmuls and a GPU's memory bandwidth for small models
DEFAULT_WINDOW_S = 0.002  # a few ms: requests sent together join one batch; an idle model waits no longer


@dataclass(frozen=True)
class Batching:
    """How concurrent generations of one model are grouped: ``max_size`` 1 turns batching off."""

    max_size: int = DEFAULT_MAX_BATCH
    window_s: float = DEFAULT_WINDOW_S


DEFAULT_BATCHING = Batching()


class _Ticket(Generic[T, R]):
    def __init__(self, item: T, key: Hashable) -> None:
        self.item, self.key = item, key
        self.done = False
        self.result: R | None = None
        self.error: BaseException | None = None

    def outcome(self) -> R:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value] # set with done when there is no error


class Batcher(Generic[T, R]):
    """Runs submitted items in batches of equal keys under ``lock``, one batch at a time (see the module)."""

    def __init__(
        self, run: Callable[[list[T]], list[R]], lock: threading.Lock, batching: Batching = DEFAULT_BATCHING
    ) -> None:
        self._run, self._lock, self.batching = run, lock, batching
        self._cond = threading.Condition()
        self._queue: list[_Ticket[T, R]] = []
        self._busy = False
        self.sizes: Counter[int] = Counter()  # how many batches of each size ran (tests, logs)

    def queued(self) -> int:
        """Items waiting for a batch (not the running one)."""
        with self._cond:
            return len(self._queue)

    def submit(self, item: T, key: Hashable) -> R:
        """``item``'s result, run in a batch with others of ``key`` (blocking); the batch's error if it failed."""
        ticket: _Ticket[T, R] = _Ticket(item, key)
        with self._cond:
            self._queue.append(ticket)
            self._cond.notify_all()
        while True:
            with self._cond:
                while not ticket.done and self._busy:
                    self._cond.wait()
                if ticket.done:
                    return ticket.outcome()
                self._busy = True
            try:
                self._lead()
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _lead(self) -> None:
        with self._lock:
            batch = self._gather()
            try:
                for ticket, result in zip(batch, self._run([t.item for t in batch]), strict=True):
                    ticket.result = result
            except BaseException as exc:  # noqa: BLE001 - every caller in the batch gets it, raised in its thread
                for ticket in batch:
                    ticket.error = exc
        with self._cond:
            for ticket in batch:
                ticket.done = True
            self.sizes[len(batch)] += 1
            self._cond.notify_all()

    def _gather(self) -> list[_Ticket[T, R]]:
        """The batch to run now: the oldest queued item and up to ``max_size`` - 1 more of its key, FIFO."""
        limit = max(1, self.batching.max_size)
        with self._cond:
            key = self._queue[0].key  # the leader's own item is queued, so there is one
            deadline = time.monotonic() + self.batching.window_s
            while limit > 1 and sum(t.key == key for t in self._queue) < limit:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch = [t for t in self._queue if t.key == key][:limit]
            self._queue = [t for t in self._queue if t not in batch]
            return batch
