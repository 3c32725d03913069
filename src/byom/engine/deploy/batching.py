"""Dynamic batching: concurrent requests to one loaded model run together, each caller gets its own answer.

    caller thread ── submit(item, key) ──▶ queue ── no batch thread? start one ──┐
        │ waits for its ticket                                                    ▼
        │                     batch thread: takes the model's lock (an adapter load or a stream goes first), waits
        │                     up to ``window_s`` for more requests, takes up to ``max_size`` queued items with the
        │                     key of the oldest (FIFO across keys) and runs them in one ``run(items, deliver)``;
        ◀──── its result ──── a row that ends early is delivered then (``deliver``), the rest when ``run`` returns,
                              or the batch's error; next batch, until the queue is empty; then the thread ends.

One batch thread per model at most, alive only while there is work: nothing to start or stop with the model.
A caller waits in the thread it already has (a worker thread of the model's limiter, or an evaluation's), and
never for its batch-mates' longer answers. ``key``: items share a batch only when their keys are equal (same
adapter, compatible sampling: ``host.batch_key``).
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
    """Runs submitted items in batches of equal keys under ``lock``, one batch at a time (see the module).

    ``run(items, deliver)`` returns one result per item; it may call ``deliver(index, result)`` first for an item
    whose result is final early, which then goes back to its caller at once.
    """

    def __init__(
        self,
        run: Callable[[list[T], Callable[[int, R], None]], list[R]],
        lock: threading.Lock,
        batching: Batching = DEFAULT_BATCHING,
    ) -> None:
        self._run, self._lock, self.batching = run, lock, batching
        self._cond = threading.Condition()
        self._queue: list[_Ticket[T, R]] = []
        self._busy = False  # a batch thread is running
        self.sizes: Counter[int] = Counter()  # how many batches of each size ran (tests, logs)

    def queued(self) -> int:
        """Items waiting for a batch (not those of the running one)."""
        with self._cond:
            return len(self._queue)

    def wait_idle(self, timeout: float) -> bool:
        """Whether the batch thread has finished (every batch run and counted), waiting up to ``timeout`` s."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._busy, timeout)

    def submit(self, item: T, key: Hashable) -> R:
        """``item``'s result, run in a batch with others of ``key`` (blocking); the batch's error if it failed."""
        ticket: _Ticket[T, R] = _Ticket(item, key)
        with self._cond:
            self._queue.append(ticket)
            self._cond.notify_all()
            if not self._busy:
                self._busy = True
                threading.Thread(target=self._drain, name="byom-batch", daemon=True).start()
            while not ticket.done:
                self._cond.wait()
        return ticket.outcome()

    def _drain(self) -> None:
        """The batch thread: one batch after another until none is queued."""
        while True:
            with self._cond:
                if not self._queue:
                    self._busy = False
                    self._cond.notify_all()
                    return
            try:
                self._one_batch()
            except (
                BaseException
            ) as exc:  # not the run's error (that one is delivered): nobody may wait forever
                with self._cond:
                    for ticket in self._queue:
                        ticket.error, ticket.done = exc, True
                    self._queue.clear()
                    self._busy = False
                    self._cond.notify_all()
                raise

    def _one_batch(self) -> None:
        batch: list[_Ticket[T, R]] = []

        def deliver(index: int, result: R) -> None:
            with self._cond:
                batch[index].result, batch[index].done = result, True
                self._cond.notify_all()

        with self._lock:
            batch = self._gather()
            try:
                results = self._run([t.item for t in batch], deliver)
                for ticket, result in zip(batch, results, strict=True):
                    if not ticket.done:
                        ticket.result = result
            except BaseException as exc:  # noqa: BLE001 - every caller still waiting gets it, raised in its thread
                for ticket in batch:
                    if not ticket.done:
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
            key = self._queue[0].key  # only this thread takes items off the queue, and it was not empty
            deadline = time.monotonic() + self.batching.window_s
            while limit > 1 and sum(t.key == key for t in self._queue) < limit:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch = [t for t in self._queue if t.key == key][:limit]
            self._queue = [t for t in self._queue if t not in batch]
            return batch
