"""What keeps deployments running: background loading, stopping, auto-stop, routing, recovery.

A deployment's state lives in SQLite; its loaded weights live in a ``ModelPool`` owned by the
one ``DeployRuntime`` of an ``EngineState`` (``state.deploy``), started and stopped by the app's lifespan. States and the auto-stop
rule follow Together's v2 model (ref together-api-2026-11 §3.5, §3.10, §3.11).

A request whose ``model`` names no endpoint, deployment or attached adapter may still name a finished job (its id
or output name), a registry model, or a model directory under the engine's allowed roots: it is served on demand
(``ondemand.py``: loaded in the background, unloaded when idle, never billed); its ``Target`` has no deployment.

Attached LoRA adapters (``deployment_adapters`` rows, ref §3.9) load onto their deployment's loaded base in a
background thread once it is READY: PENDING → LOADING → READY or FAILED. Stopping or re-provisioning the
deployment unloads them and sets them PENDING again; the next READY loads them again. Bookkeeping happens under
the runtime lock; the loads themselves run outside it, under the loaded model's own lock (``host.py``).

Over 600 lines on purpose: loading, stopping, auto-stop, adapters and routing all change the same state under the
one runtime lock (a load generation, the pool, the adapter rows), so their interleavings are read in one class;
what needs no lock lives apart (``ondemand.py``, ``host.py``, ``registry.py``).
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from byom.engine.db import Database, new_id, now
from byom.engine.deploy import registry
from byom.engine.deploy.batching import DEFAULT_BATCHING, Batching
from byom.engine.deploy.host import LoadedModel, LoadSpec, ModelPool
from byom.engine.deploy.ondemand import OnDemand
from byom.engine.devices import Device, device_for_config, probe_devices, training_device
from byom.engine.localdirs import local_model_dir
from byom.errors import EngineError, HubError, InvalidRequest, ModelLoading, NotFound, root_error_line
from byom.hub import local_safetensors_params

__all__ = [
    "ADAPTER_FAILED",
    "ADAPTER_LOADING",
    "ADAPTER_PENDING",
    "ADAPTER_READY",
    "FAILED",
    "PROVISIONING",
    "READY",
    "STOPPED",
    "DeployRuntime",
    "Target",
    "add_event",
]

log = logging.getLogger("byom.engine.deploy.runtime")

PROVISIONING = "DEPLOYMENT_STATE_PROVISIONING"
READY = "DEPLOYMENT_STATE_READY"
FAILED = "DEPLOYMENT_STATE_FAILED"
STOPPED = "DEPLOYMENT_STATE_STOPPED"

ADAPTER_PENDING = "ADAPTER_LOAD_STATE_PENDING"
ADAPTER_LOADING = "ADAPTER_LOAD_STATE_LOADING"
ADAPTER_READY = "ADAPTER_LOAD_STATE_READY"
ADAPTER_FAILED = "ADAPTER_LOAD_STATE_FAILED"
_WAITING = "Waiting for the deployment to be READY; the adapter loads then."

_LEVELS = ("LEVEL_DEBUG", "LEVEL_INFO", "LEVEL_WARN", "LEVEL_ERROR")


def add_event(
    db: Any,
    endpoint_id: str,
    type: str,
    message: str,
    *,
    deployment_id: str | None = None,
    level: str = "LEVEL_INFO",
    reason: str | None = None,
) -> None:
    """Append one event to an endpoint's feed (``GET …/endpoints/{ep}/events``)."""
    db.execute(
        "INSERT INTO endpoint_events (id, endpoint_id, deployment_id, level, type, message, reason, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (new_id("ev"), endpoint_id, deployment_id, level, type, message[:2000], reason, now()),
    )


@dataclass
class Target:
    """Where one inference request goes; a model served on demand has no deployment or endpoint."""

    deployment: dict[str, Any] | None
    endpoint: dict[str, Any] | None
    model: LoadedModel
    adapter: str | None = None  # the PEFT name of an attached adapter to generate with; None: the base alone


class DeployRuntime:
    """Loads and unloads deployments in threads and routes inference to the ready ones."""

    def __init__(
        self,
        db: Database,
        project: dict[str, str],
        *,
        reap_interval_s: float = 30.0,
        clock: Callable[[], float] = time.time,
        device: str = "auto",
        allowed_roots: tuple[Path, ...] = (),
        batching: Batching = DEFAULT_BATCHING,
    ) -> None:
        self.db = db
        self.project = project
        self.pool = ModelPool(batching)
        self.on_demand = OnDemand(self.pool, clock=clock)
        self.device = device  # where on-demand models load: the engine's --device ("auto": as training picks)
        self.allowed_roots = allowed_roots
        self.clock = clock
        self.reap_interval_s = reap_interval_s
        self._lock = threading.RLock()
        self._active: dict[str, tuple[LoadSpec, LoadedModel]] = {}
        self._adapters: dict[str, tuple[str, str]] = {}  # READY attachment dad_… → (dep_…, its PEFT name)
        self._generation: dict[str, int] = {}
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()
        self._reaper: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Re-provision what was running before a restart and start the auto-stop clock."""
        rows = self.db.query(
            "SELECT id, endpoint_id, state FROM deployments WHERE state IN (?, ?)",
            (READY, PROVISIONING),
        )
        for row in rows:
            add_event(
                self.db,
                row["endpoint_id"],
                "deployment.recovering",
                "Engine restarted: loading the model again.",
                deployment_id=row["id"],
            )
            self.provision(row["id"])
        if self.reap_interval_s > 0 and self._reaper is None:
            self._reaper = threading.Thread(target=self._reap_loop, name="byom-autostop", daemon=True)
            self._reaper.start()

    def close(self) -> None:
        """Stop background work and free every loaded model (states stay as they are, for recovery)."""
        self._closing.set()
        with self._lock:
            active = list(self._active.items())
            self._active.clear()
            self._adapters.clear()
            for dep_id in list(self._generation):
                self._generation[dep_id] += 1
        for _, (spec, _model) in active:
            self.pool.release(spec)
        self.on_demand.close()

    # --- state changes ---------------------------------------------------------------------

    def _set_state(self, dep_id: str, state: str, message: str, *, ready: bool | None = None) -> None:
        self.db.execute(
            "UPDATE deployments SET state = ?, message = ?, updated_at = ?,"
            " last_request_at = CASE WHEN ? THEN ? ELSE last_request_at END WHERE id = ?",
            (state, message, now(), 1 if ready else 0, self.clock(), dep_id),
        )

    def _bump(self, dep_id: str) -> int:
        with self._lock:
            gen = self._generation.get(dep_id, 0) + 1
            self._generation[dep_id] = gen
            return gen

    def provision(self, dep_id: str) -> None:
        """Mark PROVISIONING and load the model in a background thread (READY or FAILED after)."""
        self._unload(dep_id)
        with (
            self._lock
        ):  # the new generation and its state change together: a concurrent stop() comes before or after
            gen = self._bump(dep_id)
            self._set_state(dep_id, PROVISIONING, "Loading the model.")
        self._spawn(self._load, (dep_id, gen), f"byom-load-{dep_id}")

    def _spawn(self, target: Callable[..., None], args: tuple[Any, ...], name: str) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _load(self, dep_id: str, gen: int) -> None:
        row = self.db.one("SELECT * FROM deployments WHERE id = ?", (dep_id,))
        if row is None:
            return
        try:
            spec = self.load_spec(dict(row))
            loaded = self.pool.acquire(spec)
        except Exception as exc:  # noqa: BLE001 - any load failure becomes FAILED with its root line, never a crash
            log.warning("deployment %s failed to load: %s", dep_id, root_error_line(exc))
            with self._lock:
                if self._generation.get(dep_id) != gen:
                    return
                message = (
                    str(exc) if isinstance(exc, EngineError) else f"Model load failed: {root_error_line(exc)}"
                )
                self._set_state(dep_id, FAILED, message)
            add_event(
                self.db,
                row["endpoint_id"],
                "deployment.failed",
                message,
                deployment_id=dep_id,
                level="LEVEL_ERROR",
                reason="LoadFailed",
            )
            return
        with self._lock:
            if self._generation.get(dep_id) != gen or self._closing.is_set():
                self.pool.release(spec)  # stopped or deleted while loading
                return
            self._active[dep_id] = (spec, loaded)
            self._set_state(dep_id, READY, f"Ready: 1 replica on {spec.device}.", ready=True)
        add_event(
            self.db,
            row["endpoint_id"],
            "deployment.ready",
            f"Model loaded on {spec.device}; serving.",
            deployment_id=dep_id,
        )
        self._load_adapters(dep_id, gen)

    def _unload(self, dep_id: str) -> bool:
        with self._lock:
            held = self._active.pop(dep_id, None)
            mine = [dad for dad, (dep, _) in self._adapters.items() if dep == dep_id]
            names = [self._adapters.pop(dad)[1] for dad in mine]
            self.db.execute(
                "UPDATE deployment_adapters SET state = ?, message = ?, reason = NULL, updated_at = ?"
                " WHERE deployment_id = ?",
                (ADAPTER_PENDING, _WAITING, now(), dep_id),
            )
        if held is not None:
            for name in names:  # the loaded weights may be shared with another deployment: leave them clean
                held[1].unload_adapter(name)
            self.pool.release(held[0])
        return held is not None

    def stop(self, dep_id: str, message: str = "Stopped: minReplicas and maxReplicas are 0.") -> None:
        """Unload the weights and mark STOPPED."""
        with self._lock:
            self._bump(dep_id)
            self._set_state(dep_id, STOPPED, message)
        self._unload(dep_id)

    def forget(self, dep_id: str) -> None:
        """Unload a deployment that is being deleted."""
        self._bump(dep_id)
        self._unload(dep_id)

    def load_spec(self, dep: dict[str, Any]) -> LoadSpec:
        """Weights path (and base, for an adapter) and device of a deployment row."""
        device = device_for_config(dep["config_id"])
        if device is None:
            raise EngineError(
                f"Config {dep['config_id']} names hardware this machine no longer has. "
                "Delete this deployment and create one with a config from GET /v2/projects/{pid}/configs."
            )
        model = registry.get_model(self.db, dep["project_id"], dep["model_id"])
        revision = registry.get_revision(self.db, dep["model_id"], dep["revision_id"])
        if model is None or revision is None:
            raise EngineError(
                f"Model {dep['model_id']} revision {dep['revision_id']} is no longer registered."
            )
        path = str(revision["path"])
        if model["kind"] != "adapter":
            return LoadSpec(path=path, device=device.key)
        return LoadSpec(path=path, device=device.key, base_path=self._adapter_base(model, path))

    def _adapter_base(self, model: dict[str, Any], adapter_path: str) -> str:
        # What PEFT recorded at save time is what the adapter was trained on; prefer it when it is a
        # directory here, then the registry's baseModel, then the recorded Hub id.
        saved = registry.recorded_base(Path(adapter_path))
        registered = None
        if model.get("base_model_id"):
            base = registry.latest_revision(self.db, str(model["base_model_id"]))
            registered = str(base["path"]) if base is not None and base["path"] else None
        for candidate in (saved, registered):
            if candidate and Path(candidate).is_dir():
                return str(candidate)
        if registered or saved:
            return str(registered or saved)
        raise EngineError(
            f"Adapter {model['id']} has no base model: neither the registry nor its adapter_config.json "
            "names one. Deploy the merged model instead."
        )

    # --- attached adapters -----------------------------------------------------------------

    def locked(self) -> threading.RLock:
        """The bookkeeping lock: a route that deletes or re-pins an attachment row holds it for that write."""
        return self._lock

    def attach(self, dad_id: str) -> None:
        """Load a PENDING attachment in the background if its deployment is serving; otherwise it waits."""
        with self._lock:
            row = self.db.one("SELECT deployment_id FROM deployment_adapters WHERE id = ?", (dad_id,))
            if row is None or row["deployment_id"] not in self._active:
                return
            dep_id = str(row["deployment_id"])
            gen = self._generation.get(dep_id, 0)
        self._spawn(self._load_adapters, (dep_id, gen, [dad_id]), f"byom-adapter-{dad_id}")

    def detach(self, dad_id: str) -> None:
        """Unload an attachment whose row was deleted or re-pinned (blocking: waits for the running generation)."""
        with self._lock:
            held = self._adapters.pop(dad_id, None)
            model = self.loaded(held[0]) if held is not None else None
        if held is not None and model is not None:
            model.unload_adapter(held[1])

    def _load_adapters(self, dep_id: str, gen: int, only: list[str] | None = None) -> None:
        ids = only or [
            str(r["id"])
            for r in self.db.query(
                "SELECT id FROM deployment_adapters WHERE deployment_id = ? ORDER BY created_at", (dep_id,)
            )
        ]
        for dad_id in ids:
            self._load_adapter(dep_id, gen, dad_id)

    def _current(self, dep_id: str, gen: int) -> LoadedModel | None:
        # Under self._lock: the deployment's loaded model while this generation of it is the serving one.
        held = self._active.get(dep_id)
        return held[1] if held is not None and self._generation.get(dep_id) == gen else None

    def _load_adapter(self, dep_id: str, gen: int, dad_id: str) -> None:
        with self._lock:
            model = self._current(dep_id, gen)
            claimed = model is not None and (
                self.db.execute(
                    "UPDATE deployment_adapters SET state = ?, message = ?, reason = NULL, updated_at = ?"
                    " WHERE id = ? AND state = ?",
                    (ADAPTER_LOADING, "Loading onto the deployment's model.", now(), dad_id, ADAPTER_PENDING),
                ).rowcount
                == 1
            )
            row = (
                self.db.one("SELECT * FROM deployment_adapters WHERE id = ?", (dad_id,)) if claimed else None
            )
        if model is None or row is None:
            return  # not serving (it loads at the next READY), or another thread has it
        endpoint_id = self._endpoint_of(dep_id)
        name = f"{dad_id}_{secrets.token_hex(4)}"  # a fresh PEFT name per load: a stale load never hides a new one
        try:
            model.load_adapter(name, self._adapter_path(row))
        except Exception as exc:  # noqa: BLE001 - a load failure is the attachment's FAILED state, never a crash
            message = (
                str(exc) if isinstance(exc, EngineError) else f"Adapter load failed: {root_error_line(exc)}"
            )
            log.warning("adapter %s failed to load on %s: %s", dad_id, dep_id, message)
            with self._lock:
                if self._current(dep_id, gen) is None:
                    return
                self.db.execute(
                    "UPDATE deployment_adapters SET state = ?, message = ?, reason = 'LoadFailed', updated_at = ?"
                    " WHERE id = ? AND state = ? AND revision_id = ?",
                    (ADAPTER_FAILED, message[:2000], now(), dad_id, ADAPTER_LOADING, row["revision_id"]),
                )
            if endpoint_id:
                add_event(
                    self.db,
                    endpoint_id,
                    "adapter.failed",
                    f"Adapter {dad_id}: {message}",
                    deployment_id=dep_id,
                    level="LEVEL_ERROR",
                    reason="LoadFailed",
                )
            return
        with self._lock:
            stamp = now()
            fresh = self._current(dep_id, gen) is not None and (
                self.db.execute(
                    "UPDATE deployment_adapters SET state = ?, message = ?, realized_revision_id = revision_id,"
                    " loaded_at = COALESCE(loaded_at, ?), updated_at = ? WHERE id = ? AND state = ? AND revision_id = ?",
                    (
                        ADAPTER_READY,
                        "Loaded; serving.",
                        stamp,
                        stamp,
                        dad_id,
                        ADAPTER_LOADING,
                        row["revision_id"],
                    ),
                ).rowcount
                == 1
            )
            previous = self._adapters.get(dad_id) if fresh else None
            if fresh:
                self._adapters[dad_id] = (dep_id, name)
        for stale in ([name] if not fresh else []) + ([previous[1]] if previous else []):
            model.unload_adapter(stale)  # deleted, re-pinned or stopped meanwhile; or replaced by this load
        if fresh and endpoint_id:
            add_event(
                self.db,
                endpoint_id,
                "adapter.ready",
                f"Adapter {dad_id} loaded; serving.",
                deployment_id=dep_id,
            )

    def _endpoint_of(self, dep_id: str) -> str | None:
        row = self.db.one("SELECT endpoint_id FROM deployments WHERE id = ?", (dep_id,))
        return str(row["endpoint_id"]) if row is not None else None

    def _adapter_path(self, row: Any) -> str:
        revision = registry.get_revision(self.db, row["adapter_model_id"], row["revision_id"])
        if revision is None:
            raise EngineError(
                f"Adapter model {row['adapter_model_id']} revision {row['revision_id']} is no longer registered. "
                "Detach it and attach a registered revision."
            )
        path = Path(str(revision["path"]))
        if not (path / "adapter_config.json").is_file():
            raise EngineError(f"Adapter weights are missing: {path} has no adapter_config.json.")
        return str(path)

    # --- inference -------------------------------------------------------------------------

    def loaded(self, dep_id: str) -> LoadedModel | None:
        with self._lock:
            held = self._active.get(dep_id)
        return held[1] if held else None

    def touch(self, dep_id: str) -> None:
        """Record a request (the inactiveTimeout clock restarts)."""
        with self._lock:  # ordered with the auto-stop's check of the same column
            self.db.execute("UPDATE deployments SET last_request_at = ? WHERE id = ?", (self.clock(), dep_id))

    def resolve(self, model: str, *, wait_s: float = 0.0) -> Target:
        """The deployment an inference ``model`` string reaches: a pinned deployment or the endpoint's split; else
        a model served on demand. ``wait_s`` > 0 blocks up to that long while such a model loads (call it from a
        worker thread, never the event loop); 0 raises ``ModelLoading`` at once, as the HTTP routes want."""
        project = self.project
        slug, pid = project["slug"], project["id"]
        parts = model.split("/")
        if parts and parts[0] == slug:
            parts = parts[1:]
        found = (
            self.db.one("SELECT * FROM endpoints WHERE project_id = ? AND name = ?", (pid, parts[0]))
            if len(parts) in (1, 2)
            else None
        )
        if found is None and len(parts) == 1:
            attached = self._resolve_adapter(model, parts[0])
            if attached is not None:
                return attached
        if found is None:
            served = self._resolve_on_demand(model, "/".join(parts), wait_s)
            if served is not None:
                return served
        if found is None:
            raise NotFound(
                f"Unable to access model {model!r}: no endpoint or deployment of that name. Use the endpoint name, "
                f"e.g. {slug}/my-ft; list endpoints with GET /v2/projects/{pid}/endpoints.",
                type="invalid_request_error",
                code="model_not_available",
                param="model",
            )
        endpoint = dict(found)
        if len(parts) == 2:  # ``<slug>/<endpoint>/<deployment>``: pinned, bypassing the split (ref §3.10)
            pinned = self.db.one(
                "SELECT * FROM deployments WHERE endpoint_id = ? AND name = ?", (endpoint["id"], parts[1])
            )
            if pinned is None:
                raise NotFound(
                    f"Unable to access model {model!r}: endpoint {slug}/{endpoint['name']} has no deployment "
                    f"{parts[1]!r}. List them with GET /v2/projects/{pid}/endpoints/{endpoint['id']}/deployments.",
                    type="invalid_request_error",
                    code="model_not_available",
                    param="model",
                )
            loaded = self.loaded(pinned["id"]) if pinned["state"] == READY else None
            if loaded is None:
                raise _not_running(model, [dict(pinned)])
            return Target(dict(pinned), endpoint, loaded)
        split = json.loads(endpoint["traffic_split"] or "[]")
        deps = {
            r["id"]: dict(r)
            for r in self.db.query("SELECT * FROM deployments WHERE endpoint_id = ?", (endpoint["id"],))
        }
        candidates: list[tuple[float, dict[str, Any], LoadedModel]] = []
        for entry in split:
            routed = deps.get(entry["deploymentId"])
            weight = float(entry.get("weight", 0))
            if routed is None or weight <= 0 or routed["state"] != READY:
                continue
            loaded = self.loaded(routed["id"])
            if loaded is not None:
                candidates.append((weight, routed, loaded))
        if not candidates:
            raise _not_running(model, list(deps.values()), unrouted=not split)
        # Effective capacity is weight × readyReplicas (ref §3.10); each local deployment has one replica.
        _, chosen, chosen_model = random.choices(candidates, weights=[c[0] for c in candidates])[0]
        return Target(chosen, endpoint, chosen_model)

    def _resolve_adapter(self, model: str, bare: str) -> Target | None:
        """An attached adapter by its registry name (``<slug>/<name>``): one READY deployment it is loaded on.

        Endpoint names are looked up first and win; the API documents no name for an attached adapter (ref §7 #2).
        """
        pid = self.project["id"]
        found = registry.find_model_by_name(self.db, pid, bare)
        if found is None or found["kind"] != "adapter":
            return None
        rows = self.db.query(
            "SELECT a.id, a.state, a.deployment_id, d.name, d.state AS dep_state FROM deployment_adapters a"
            " JOIN deployments d ON d.id = a.deployment_id WHERE a.adapter_model_id = ? ORDER BY a.created_at",
            (found["id"],),
        )
        with self._lock:
            ready = [
                (str(r["deployment_id"]), self._adapters[r["id"]][1])
                for r in rows
                if r["id"] in self._adapters
                and r["deployment_id"] in self._active
                and r["dep_state"] == READY
            ]
        if not ready:
            if not rows:
                raise NotFound(
                    f"Unable to access model {model!r}: the adapter is not attached to any deployment. Attach it to a "
                    f"deployment of its base with POST /v2/projects/{pid}/endpoints/<ep>/deployments/<dep>/adapters.",
                    type="invalid_request_error",
                    code="model_not_available",
                    param="model",
                )
            states = ", ".join(f"{r['name']}: {r['state'].removeprefix('ADAPTER_LOAD_STATE_')}" for r in rows)
            raise InvalidRequest(
                f"Adapter {model!r} is not loaded on a running deployment (attachments: {states}). Poll the attachment "
                "until ADAPTER_LOAD_STATE_READY (and its deployment until DEPLOYMENT_STATE_READY), then retry.",
                code="adapter_not_ready",
                param="model",
            )
        dep_id, name = random.choice(ready)
        dep = self.db.one("SELECT * FROM deployments WHERE id = ?", (dep_id,))
        endpoint = self.db.one("SELECT * FROM endpoints WHERE id = ?", (dep["endpoint_id"],)) if dep else None
        loaded = self.loaded(dep_id)
        if dep is None or endpoint is None or loaded is None:
            raise _not_running(model, [dict(dep)] if dep else [])
        return Target(dict(dep), dict(endpoint), loaded, adapter=name)

    # --- served on demand (no deployment) ---------------------------------------------------

    def _resolve_on_demand(self, model: str, bare: str, wait_s: float) -> Target | None:
        """A finished job, a registry model or an allowed model directory, loaded on demand; None if none."""
        found = self._on_demand_spec(model, bare)
        if found is None:
            return None
        spec, parameters, label = found
        device = self._device(spec.device)
        try:
            return Target(None, None, self.on_demand.get(spec, device, parameters, label))
        except ModelLoading:
            if wait_s <= 0 or not self.on_demand.wait(spec, wait_s):
                raise
        return Target(None, None, self.on_demand.get(spec, device, parameters, label))

    def _on_demand_spec(self, model: str, bare: str) -> tuple[LoadSpec, int | None, str] | None:
        job = self.db.one(
            "SELECT id, status, registry, param_count FROM jobs WHERE id = ? OR model_output_name = ?",
            (model, model),
        )
        if job is not None:
            if job["status"] != "completed":
                raise InvalidRequest(
                    f"Job {job['id']} is {job['status']}; its model answers once the job has completed. "
                    "Follow it with job_status.",
                    code="model_not_available",
                    param="model",
                )
            fields = json.loads(job["registry"] or "{}")
            model_id = fields.get("model_object_id") or fields.get("adapter_object_id")
            row = registry.get_model(self.db, self.project["id"], model_id) if model_id else None
            if row is None:
                raise NotFound(
                    f"Job {job['id']} completed but its weights are not registered. Run a new job.",
                    code="model_not_available",
                    param="model",
                )
            return self._registry_spec(row, job["param_count"], f"The model of job {job['id']}")
        local = local_model_dir(model, self.allowed_roots, param="model", adapter_ok=True)
        if local is not None:
            return self._directory_spec(local)
        row = registry.find_model_by_name(self.db, self.project["id"], bare)
        if row is not None and row["kind"] == "model":  # an adapter by name is the attached one (above)
            return self._registry_spec(row, None, f"Model {row['name']}")
        return None

    def _registry_spec(
        self, row: dict[str, Any], parameters: int | None, label: str
    ) -> tuple[LoadSpec, int | None, str]:
        revision = registry.latest_revision(self.db, str(row["id"]))
        path = str(revision["path"]) if revision is not None else ""
        if not Path(path).is_dir():
            raise NotFound(
                f"{label} has no weights on this machine ({path or 'no revision'}). Deploy it with a registered "
                "revision instead.",
                code="model_not_available",
                param="model",
            )
        device = self._device_key()
        base = self._adapter_base(row, path) if row["kind"] == "adapter" else None
        return LoadSpec(path=path, device=device, base_path=base), parameters or row.get("parameters"), label

    def _directory_spec(self, path: Path) -> tuple[LoadSpec, int | None, str]:
        label = f"Model directory {path}"
        base = None
        if not (path / "config.json").is_file():  # an adapter: it loads on the base PEFT recorded
            base = registry.recorded_base(path)
            if base is None:
                raise InvalidRequest(
                    f"{label} is a LoRA adapter whose adapter_config.json names no base model. "
                    "Give the merged model's directory instead.",
                    param="model",
                )
        weights = Path(base) if base is not None else path
        try:  # the base's count: the adapter's own is a rounding error beside it
            counted = local_safetensors_params(weights) if weights.is_dir() else None
        except HubError:
            counted = None  # a corrupt file fails the load itself, with its own message
        return (
            LoadSpec(path=str(path), device=self._device_key(), base_path=base),
            counted[0] if counted else None,
            label,
        )

    def _device_key(self) -> str:
        return self.device if self.device != "auto" else training_device(probe_devices())

    def _device(self, key: str) -> Device:
        devices = probe_devices()
        return next((d for d in devices if d.key == key or d.key.split(":")[0] == key), devices[0])

    # --- auto-stop -------------------------------------------------------------------------

    def reap_once(self, now: float | None = None) -> list[str]:
        """Stop READY deployments idle longer than their inactiveTimeout; return the ids stopped."""
        now = self.clock() if now is None else now
        stopped: list[str] = []
        rows = self.db.query(
            "SELECT id, endpoint_id, inactive_timeout, last_request_at FROM deployments"
            " WHERE state = ? AND inactive_timeout > 0",
            (READY,),
        )
        for row in rows:
            last = row["last_request_at"] or now
            if now - last >= row["inactive_timeout"] * 60:
                minutes = row["inactive_timeout"]
                with self._lock:
                    # Still the READY deployment idle since we looked? A request or a re-provision in between wins.
                    current = self.db.one(
                        "SELECT state, last_request_at FROM deployments WHERE id = ?", (row["id"],)
                    )
                    if current is None or current["state"] != READY:
                        continue
                    if current["last_request_at"] != row["last_request_at"]:
                        continue
                    self.stop(
                        row["id"], f"Stopped after {minutes} minutes without requests (inactiveTimeout)."
                    )
                add_event(
                    self.db,
                    row["endpoint_id"],
                    "deployment.auto_stopped",
                    f"No requests for {minutes} minutes: stopped. Scale autoscaling to ≥1 replica to restart.",
                    deployment_id=row["id"],
                )
                stopped.append(row["id"])
        self.on_demand.reap(now)
        return stopped

    def _reap_loop(self) -> None:
        while not self._closing.wait(self.reap_interval_s):
            try:
                self.reap_once()
            except Exception:  # the clock must keep ticking; the error is logged
                log.exception("auto-stop check failed")


def _not_running(model: str, deployments: list[dict[str, Any]], *, unrouted: bool = False) -> EngineError:
    states = (
        ", ".join(f"{d['name']}: {d['state'].removeprefix('DEPLOYMENT_STATE_')}" for d in deployments)
        or "none"
    )
    if unrouted and any(d["state"] == READY for d in deployments):
        hint = "The endpoint's trafficSplit is empty: PATCH the endpoint with updateMask=trafficSplit to route it."
    elif any(d["state"] == PROVISIONING for d in deployments):
        hint = "A deployment is still loading; poll it until DEPLOYMENT_STATE_READY, then retry."
    else:
        hint = (
            "Start a deployment (PATCH autoscaling minReplicas/maxReplicas to 1) or create one, "
            "and give it a weight in the endpoint's trafficSplit."
        )
    return InvalidRequest(
        f"Endpoint for {model!r} has no running deployment (deployments: {states}). {hint}",
        type="invalid_request_error",
        code="dedicated_endpoint_not_running",
        param="model",
    )
