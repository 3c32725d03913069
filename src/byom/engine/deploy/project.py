"""Request plumbing shared by the v2 API modules: project scope, paging, etags, names, masks, model lookups.

Paths, shapes and rules follow Together's v2 dedicated-endpoint model as SDK ``together`` 3.1.1
calls it (ref together-api-2026-11 §3.3-§3.13): camelCase JSON, ``{data, next_cursor}`` lists,
``etag`` + ``updateMask`` updates. The engine is one project (``EngineState.project``).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request

from byom.engine.db import Database, new_id, now
from byom.engine.deploy import registry
from byom.engine.state import engine_of
from byom.errors import Conflict, InvalidRequest, NotFound

__all__ = [
    "NO_RETRY",
    "PROJECT_ROUTE",
    "already_exists",
    "bare_name",
    "check_etag",
    "etag_update",
    "filter_names",
    "find_model",
    "ordered",
    "parse_model_ref",
    "project_of",
    "require_parent",
    "revision_of",
    "serving_parameters",
    "update_mask",
]

PROJECT_ROUTE = "/v2/projects/{pid}"  # every project-scoped v2 route starts here
NO_RETRY = {"x-should-retry": "false"}  # the SDK retries 409s unless told not to (ref §5.5)


def already_exists(message: str, *, param: str = "name") -> Conflict:
    """A 409 for a name (or an attachment) that is taken: the SDK is told not to retry it."""
    return Conflict(message, code="already_exists", param=param, headers=NO_RETRY)


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


# --- request plumbing ------------------------------------------------------------------------


def project_of(request: Request) -> dict[str, str]:
    project: dict[str, str] = engine_of(request).project
    pid = request.path_params.get("pid")
    if pid is not None and pid != project["id"]:
        raise NotFound(
            f"Project {pid!r} not found. This engine serves one project, {project['id']!r} "
            "(GET /v3/whoami shows it); use that id.",
        )
    return project


def check_etag(given: str | None, current: str, what: str) -> None:
    if given and given != current:
        raise Conflict(
            f"The {what} changed since you read it (etag {given!r} is stale; current is {current!r}). "
            f"GET the {what} again and retry with its current etag.",
            code="etag_mismatch",
            param="etag",
            headers=NO_RETRY,
        )


def etag_update(db: Database, table: str, row_id: str, changes: dict[str, Any], etag: str | None) -> None:
    """Apply ``changes`` to one endpoint/deployment row with a fresh etag, unless ``etag`` went stale meanwhile."""
    what = {"endpoints": "endpoint", "deployments": "deployment"}[table]
    changes = {**changes, "etag": new_id("et"), "updated_at": now()}
    sets = ", ".join(f"{k} = ?" for k in changes)
    with db.transaction() as conn:
        current = conn.execute(f"SELECT etag FROM {table} WHERE id = ?", (row_id,)).fetchone()
        if current is None:  # deleted while this update's body was arriving
            raise Conflict(
                f"The {what} was deleted while this update was being received; nothing was changed. List the"
                f" {what}s again.",
                code="aborted",
                headers=NO_RETRY,
            )
        check_etag(etag, current["etag"], what)
        conn.execute(f"UPDATE {table} SET {sets} WHERE id = ?", (*changes.values(), row_id))


def require_parent(conn: Any, table: str, row_id: str, message: str) -> None:
    """Inside the transaction that inserts a child row: a 409 with ``message`` when its parent (an endpoint, a
    deployment) was deleted since the request read it, e.g. while its body was still arriving.

    The check and the insert share one ``BEGIN IMMEDIATE`` transaction, so no delete lands between them, and
    the insert can never fail on the foreign key instead (a 500).
    """
    assert table in ("endpoints", "deployments")
    if conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (row_id,)).fetchone() is None:
        raise Conflict(message, code="aborted", headers=NO_RETRY)


def bare_name(raw: str, slug: str, what: str, *, prefix_parts: int = 1) -> str:
    parts = raw.strip().split("/")
    if len(parts) == prefix_parts + 1:
        if parts[0] != slug:
            raise InvalidRequest(
                f"{what} name {raw!r} names project slug {parts[0]!r}, but this project's slug is {slug!r}. "
                f"Use a bare name or {slug}/<name>.",
                param="name",
            )
        parts = parts[1:]
    name = parts[-1] if parts else ""
    if len(parts) > prefix_parts or not _NAME.match(name):
        raise InvalidRequest(
            f"Invalid {what} name {raw!r}: use 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit.",
            param="name",
        )
    return name


_FILTER = re.compile(r'^\s*name\s*(=|:)\s*"([^"]*)"\s*$')


def ordered(request: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = (request.query_params.get("orderBy") or "").strip()
    if not order:
        return items
    field, _, direction = order.partition(" ")
    key = {"created_at": "createdAt", "updated_at": "updatedAt", "name": "name"}.get(field)
    if key is None or direction.strip() not in ("", "asc", "desc"):
        raise InvalidRequest(
            f"Unsupported orderBy {order!r}: use created_at or updated_at, then asc or desc.",
            param="orderBy",
        )
    return sorted(items, key=lambda i: i[key], reverse=direction.strip() == "desc")


def filter_names(request: Request, items: list[dict[str, Any]], slug: str) -> list[dict[str, Any]]:
    raw = request.query_params.get("filter")
    if not raw:
        return items
    match = _FILTER.match(raw)
    if match is None:
        raise InvalidRequest(
            f'Unsupported filter {raw!r}: this engine supports name="<name>" and name:"<part>".',
            param="filter",
        )
    op, value = match.groups()
    value = value.removeprefix(f"{slug}/")

    def bare(item: dict[str, Any]) -> str:
        return str(item["name"]).split("/")[-1]

    if op == "=":
        return [i for i in items if bare(i) == value]
    pattern = re.compile(".*".join(re.escape(p) for p in value.split("*")))
    return [i for i in items if pattern.search(bare(i))]


def update_mask(request: Request, allowed: set[str]) -> set[str] | None:
    raw = request.query_params.get("updateMask")
    if not raw:
        return None
    fields = {f.strip() for f in raw.split(",") if f.strip()}
    unknown = sorted(f for f in fields if f not in allowed)
    if unknown:
        raise InvalidRequest(
            f"updateMask names fields that cannot be updated: {', '.join(unknown)}. "
            f"Updatable: {', '.join(sorted(allowed))}.",
            param="updateMask",
        )
    return fields


# --- model lookups (the models routes read them; deployments resolve their model with them) -------


def find_model(request: Request, ref: str) -> dict[str, Any]:
    project = project_of(request)
    db = engine_of(request).db
    row = registry.get_model(db, project["id"], ref) or registry.find_model_by_name(db, project["id"], ref)
    if row is None:
        raise NotFound(
            f"Model {ref!r} not found in project {project['id']}. List models with GET /v2/projects/{project['id']}/models.",
        )
    return row


def revision_of(request: Request, model: Any, revision_id: str | None, *, param: str) -> Any:
    """The named revision of a registry model, or its latest; 404 that says how to list them."""
    db = engine_of(request).db
    model_id = str(model["id"])
    revision = (
        registry.get_revision(db, model_id, revision_id)
        if revision_id
        else registry.latest_revision(db, model_id)
    )
    if revision is None:
        pid = engine_of(request).project["id"]
        raise NotFound(
            f"Revision {revision_id!r} of model {model_id} not found. "
            f"List revisions with GET /v2/projects/{pid}/models/{model_id}/revisions.",
            param=param,
        )
    return revision


def serving_parameters(db: Any, model: dict[str, Any]) -> int | None:
    # An adapter is served on its base: the base's size decides which devices fit.
    params = model.get("parameters")
    if model["kind"] == "adapter" and model.get("base_model_id"):
        base = registry.get_model(db, model["project_id"], str(model["base_model_id"]))
        if base is not None and base.get("parameters"):
            params = int(base["parameters"]) + int(params or 0)
    return int(params) if params else None


def parse_model_ref(ref: str, project: dict[str, str]) -> tuple[str, str | None]:
    """``projects/{p}/models/{ml}[/revisions/{rv}]`` → (ml, rv)."""
    parts = ref.strip().split("/")
    if (
        len(parts) in (4, 6)
        and parts[0] == "projects"
        and parts[2] == "models"
        and (len(parts) == 4 or parts[4] == "revisions")
    ):
        if parts[1] != project["id"]:
            raise NotFound(
                f"Project {parts[1]!r} in {ref!r} not found; this engine's project is {project['id']!r}.",
                param="model",
            )
        return parts[3], parts[5] if len(parts) == 6 else None
    raise InvalidRequest(
        f"Invalid model reference {ref!r}: use projects/{project['id']}/models/<ml_id>[/revisions/<rv_id>].",
        param="model",
    )
