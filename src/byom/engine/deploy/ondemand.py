"""Models served on demand: a finished job's weights (or a model directory) answered without a deployment.

    runtime.resolve(model): no endpoint, deployment or attached adapter of that name → ``OnDemand.get(spec, …)``
        loaded   → the ``LoadedModel`` (its last use stamped)
        loading  → ``ModelLoading`` (503, Retry-After): the same request succeeds once the load has finished
        failed   → the load's error, once (the next request loads again)
        absent   → the fit check (refused when it can never fit), the least recently used idle models
                   unloaded to make room, then the load in a background thread → ``ModelLoading``

At most ``capacity`` models at once; one unused for ``idle_s`` is unloaded by the runtime's auto-stop clock
(``reap``). Nothing here is billed or persisted: an engine restart simply loads again on the next request.
The weights are the ``ModelPool``'s, so a deployment of the same weights shares them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from byom.engine.deploy.host import LoadedModel, LoadSpec, ModelPool
from byom.engine.devices import Device, estimate_bytes
from byom.errors import EngineError, InvalidRequest, ModelLoading, root_error_line

__all__ = ["IDLE_S", "OnDemand"]

log = logging.getLogger("byom.engine.deploy.ondemand")

IDLE_S = 600.0  # ten minutes unused: unloaded (the memory is the user's machine's, not a billed replica's)
_RETRY_AFTER_S = 2
_GIB = 1024**3


@dataclass
class _Entry:
    spec: LoadSpec
    need_bytes: int
    started: float
    last_used: float
    model: LoadedModel | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class OnDemand:
    """A small LRU pool of models loaded for requests that name no deployment."""

    def __init__(
        self,
        pool: ModelPool,
        *,
        capacity: int = 2,
        idle_s: float = IDLE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool
        self.capacity = capacity
        self.idle_s = idle_s
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: dict[LoadSpec, _Entry] = {}

    def get(self, spec: LoadSpec, device: Device, parameters: int | None, label: str) -> LoadedModel:
        """The loaded model for ``spec``, or ``ModelLoading`` while it loads (started here when absent)."""
        evicted: list[LoadSpec] = []
        with self._lock:
            entry = self._entries.get(spec)
            if entry is not None and entry.error is not None:
                del self._entries[spec]  # told once; the next request tries again
                error = entry.error
                raise (
                    error
                    if isinstance(error, EngineError)
                    else EngineError(f"Loading {label} failed: {root_error_line(error)}")
                )
            if entry is None:
                need = estimate_bytes(parameters, device)
                if need > device.memory_bytes:
                    raise InvalidRequest(
                        f"{label} needs about {need / _GIB:.1f} GiB to serve on {device.key}; this machine's "
                        f"{device.key} has {device.memory_bytes / _GIB:.1f} GiB. Serve it on Together "
                        "(deploy_endpoint) or pick a smaller model.",
                        code="model_too_large",
                        param="model",
                    )
                evicted = self._make_room(need, device)
                entry = _Entry(spec, need, started=self.clock(), last_used=self.clock())
                self._entries[spec] = entry
                threading.Thread(
                    target=self._load, args=(entry,), name="byom-ondemand-load", daemon=True
                ).start()
            entry.last_used = self.clock()
            model = entry.model
            waited = self.clock() - entry.started
        for old in evicted:
            self.pool.release(old)
        if model is None:
            raise ModelLoading(
                f"{label} is loading on this engine ({waited:.0f} s so far); send the same request again in "
                "a few seconds.",
                code=ModelLoading.CODE,
                param="model",
                headers={"Retry-After": str(_RETRY_AFTER_S)},
            )
        return model

    def _make_room(self, need: int, device: Device) -> list[LoadSpec]:
        # Under self._lock: the least recently used loaded models leave until the new one fits (count and memory).
        loaded = sorted((e for e in self._entries.values() if e.model is not None), key=lambda e: e.last_used)
        evicted: list[LoadSpec] = []
        for entry in loaded:
            on_device = sum(e.need_bytes for e in self._entries.values() if e.spec.device == device.key)
            if len(self._entries) < self.capacity and on_device + need <= device.memory_bytes:
                break
            del self._entries[entry.spec]
            evicted.append(entry.spec)
        return evicted

    def _load(self, entry: _Entry) -> None:
        try:
            model = self.pool.acquire(entry.spec)
        except Exception as exc:  # noqa: BLE001 - the next request reports it; never a crashed thread
            log.warning("on-demand load of %s failed: %s", entry.spec.path, root_error_line(exc))
            with self._lock:
                entry.error = exc
            entry.done.set()
            return
        with self._lock:
            kept = self._entries.get(entry.spec) is entry
            if kept:
                entry.model = model
        if not kept:  # unloaded (closed, evicted) while loading
            self.pool.release(entry.spec)
        entry.done.set()

    def wait(self, spec: LoadSpec, timeout: float) -> bool:
        """Block until the load of ``spec`` has ended (tests, and a caller that may wait); False on timeout."""
        with self._lock:
            entry = self._entries.get(spec)
        return entry is None or entry.done.wait(timeout)

    def reap(self, now: float) -> list[str]:
        """Unload the models unused for ``idle_s``; return their paths."""
        with self._lock:
            idle = [
                e for e in self._entries.values() if e.model is not None and now - e.last_used >= self.idle_s
            ]
            for entry in idle:
                del self._entries[entry.spec]
        for entry in idle:
            self.pool.release(entry.spec)
            log.info("unloaded %s after %.0f s unused", entry.spec.path, self.idle_s)
        return [e.spec.path for e in idle]

    def close(self) -> None:
        with self._lock:
            loaded = [e.spec for e in self._entries.values() if e.model is not None]
            self._entries.clear()
        for spec in loaded:
            self.pool.release(spec)
