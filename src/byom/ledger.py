"""The MCP server's own record of what it started and promised to spend (SQLite in the byom data dir).

Two tables:

- ``spends``: every create the server sends (a fine-tune job, a deployment) is written *before* the request
  goes out, with its fingerprint and estimate, and completed with the backend's id when the answer comes.
  A row left ``sending`` means the answer was lost: the next identical call looks for the job on the backend
  before it creates anything (at most one job per create, even under faults). The sum of the estimates of
  the last 24 h is what ``BYOM_MAX_USD_PER_DAY`` is checked against.
- ``confirmations``: the single-use, short-lived tokens a host without elicitation passes back to confirm a
  plan. Only a hash of each token is stored, bound to a hash of exactly the plan it confirms and of the client
  it was shown to (an HTTP session or credential; stdio is one client).
- ``uploads``: the local files a confirmed create uploaded (by content hash), so that the next plan for the
  same bytes asks the backend for its own price instead of uploading again.

The spending limits live here too (``SpendingLimits``, ``check_limits``): the user's ``BYOM_MAX_USD`` /
``BYOM_MAX_USD_PER_DAY``, and for a plan confirmed by token (no form a person answered) default caps when
the user set none.

Rows never hold a secret: requests are stored without ``hf_api_token`` and ``wandb_key``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from byom.errors import CreateInFlight, SpendingLimit
from byom.storage import Migration, SQLiteStore

__all__ = [
    "DAY_S",
    "TOKEN_MAX_USD",
    "TOKEN_MAX_USD_PER_DAY",
    "Claim",
    "Ledger",
    "Redeemed",
    "SpendRecord",
    "SpendingLimits",
    "fingerprint",
]

DAY_S = 86_400.0
# A token comes back from whatever holds the conversation, with no sign that a person saw the plan: when the
# user set no limit of their own, these bound what token-confirmed plans spend (issue #14).
TOKEN_MAX_USD = 25.0
TOKEN_MAX_USD_PER_DAY = 100.0

MIGRATIONS: list[Migration] = [
    (
        "m001_spends",
        """
        CREATE TABLE spends (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,               -- finetune | deployment
            fingerprint TEXT NOT NULL,        -- sha256 of the backend and the request, secrets removed
            backend TEXT NOT NULL,            -- the backend's base URL
            request TEXT NOT NULL,            -- JSON, secrets removed
            estimate_usd REAL NOT NULL DEFAULT 0,
            state TEXT NOT NULL,              -- sending | unknown | created | failed
            resource_id TEXT,                 -- the job or deployment id, once known
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX spends_fingerprint ON spends (fingerprint, created_at)
        """,
    ),
    (
        "m002_confirmations",
        """
        CREATE TABLE confirmations (
            token_hash TEXT PRIMARY KEY,
            plan_hash TEXT NOT NULL,
            expires_at REAL NOT NULL,
            used_at REAL
        )
        """,
    ),
    (
        "m003_token_clients_and_uploads",
        """
        ALTER TABLE confirmations ADD COLUMN client_hash TEXT NOT NULL DEFAULT '';
        CREATE TABLE uploads (
            backend TEXT NOT NULL,            -- the backend's base URL
            sha256 TEXT NOT NULL,             -- the file's content
            file_id TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (backend, sha256)
        )
        """,
    ),
]


def fingerprint(backend: str, request: Mapping[str, Any]) -> str:
    """A stable hash of a request to one backend (canonical JSON; the caller removes secrets first)."""
    canonical = json.dumps({"backend": backend, "request": request}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class SpendRecord(BaseModel):
    id: int
    kind: str
    fingerprint: str
    backend: str
    request: dict[str, Any]
    estimate_usd: float
    # sending: a call is sending it now; unknown: its answer was lost (it may exist); created; failed: a definite no
    state: Literal["sending", "unknown", "created", "failed"]
    resource_id: str | None
    created_at: float
    updated_at: float


class Claim(BaseModel):
    """What ``Ledger.claim`` decided: send a new create, retry one whose answer was lost, or use the job made."""

    kind: Literal["new", "retry", "created"]
    row_id: int
    previous: SpendRecord | None = None


class Redeemed(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"  # never issued here (or tampered with)
    USED = "used"
    EXPIRED = "expired"
    OTHER_PLAN = "other_plan"  # issued for different arguments, file or price
    OTHER_CLIENT = "other_client"  # issued to another MCP client (HTTP session or credential)


class SpendingLimits(BaseModel):
    """The limits one plan is held to (US dollars; None: none), and whether each is the token default."""

    model_config = ConfigDict(frozen=True)

    max_usd: float | None = None
    max_usd_per_day: float | None = None
    default_max_usd: bool = False
    default_max_usd_per_day: bool = False

    @classmethod
    def of(cls, max_usd: float | None, max_usd_per_day: float | None, *, by_token: bool) -> SpendingLimits:
        """The user's limits; for a plan confirmed by token, the default caps where the user set none."""
        return cls(
            max_usd=TOKEN_MAX_USD if by_token and max_usd is None else max_usd,
            max_usd_per_day=TOKEN_MAX_USD_PER_DAY
            if by_token and max_usd_per_day is None
            else max_usd_per_day,
            default_max_usd=by_token and max_usd is None,
            default_max_usd_per_day=by_token and max_usd_per_day is None,
        )

    @property
    def any(self) -> bool:
        return self.max_usd is not None or self.max_usd_per_day is not None

    def per_action(self) -> str:
        assert self.max_usd is not None
        return _limit_name("BYOM_MAX_USD", self.max_usd, default=self.default_max_usd, per="per action")

    def per_day(self) -> str:
        assert self.max_usd_per_day is not None
        return _limit_name(
            "BYOM_MAX_USD_PER_DAY", self.max_usd_per_day, default=self.default_max_usd_per_day, per="per 24 h"
        )


def _limit_name(variable: str, usd: float, *, default: bool, per: str) -> str:
    if not default:
        return f"{variable}=${usd:,.2f}"
    return (
        f"the default cap of ${usd:,.2f} {per} for plans confirmed by token (no form was shown to the user; set "
        f"{variable} in the server's environment to raise it)"
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Ledger:
    """The ledger file, opened (and migrated) once per server."""

    def __init__(self, path: Path) -> None:
        # Its writes are a few rows, made on the server's event loop: a lock held longer than this (another
        # process stuck mid-write) is an error to report, not a reason to freeze every tool call.
        self._db = SQLiteStore(path, MIGRATIONS, busy_timeout_s=5.0)

    def close(self) -> None:
        self._db.close()

    # -- creates --

    def recent(self, kind: str, print_: str, *, within_s: float = DAY_S) -> SpendRecord | None:
        """The newest create of this fingerprint in the window that did not fail."""
        row = self._db.one(
            "SELECT * FROM spends WHERE kind = ? AND fingerprint = ? AND state != 'failed' AND created_at >= ? "
            "ORDER BY created_at DESC, id DESC LIMIT 1",
            (kind, print_, time.time() - within_s),
        )
        return None if row is None else _record(row)

    def claim(
        self,
        kind: str,
        print_: str,
        backend: str,
        request: Mapping[str, Any],
        estimate_usd: float,
        *,
        force_new: bool = False,
        in_flight_s: float = 300.0,
        limits: SpendingLimits | None = None,
        within_s: float = DAY_S,
    ) -> Claim:
        """Decide, atomically, what a create of this fingerprint may do, and record it as being sent.

        In one ``BEGIN IMMEDIATE`` transaction, so two calls (two windows, a model's parallel calls) cannot both
        send the same create: a row another call is sending right now (younger than ``in_flight_s``) is
        ``CreateInFlight``; a created one is returned (unless ``force_new``); a lost one (``unknown``, or
        ``sending`` left by a crash) is retried on the same row. The daily limit is checked here again, with
        what was confirmed since the plan was made.
        """
        now = time.time()
        with self._db.transaction() as conn:
            latest = conn.execute(
                "SELECT * FROM spends WHERE kind = ? AND fingerprint = ? AND state != 'failed' AND created_at >= ? "
                "ORDER BY created_at DESC, id DESC LIMIT 1",
                (kind, print_, now - within_s),
            ).fetchone()
            previous = _record(latest) if latest is not None else None
            if (
                previous is not None
                and previous.state == "sending"
                and now - previous.updated_at < in_flight_s
            ):
                raise CreateInFlight(
                    "This same request is being sent right now by another call. Wait a minute, then call list_jobs "
                    "(or this tool again: it returns the job that call made)."
                )
            if previous is not None and not force_new and previous.state == "created":
                return Claim(kind="created", row_id=previous.id, previous=previous)
            retry = previous is not None and not force_new and previous.state in ("unknown", "sending")
            if limits is not None and limits.max_usd_per_day is not None:
                spent = conn.execute(
                    "SELECT COALESCE(SUM(estimate_usd), 0) AS total FROM spends WHERE state != 'failed' "
                    "AND created_at >= ? AND id != ?",
                    (now - DAY_S, previous.id if retry and previous is not None else -1),
                ).fetchone()["total"]
                if spent + estimate_usd > limits.max_usd_per_day:
                    raise SpendingLimit(
                        f"${spent:,.2f} was confirmed in the last 24 h; with this ${estimate_usd:,.2f} that is above "
                        f"{limits.per_day()}. Nothing was sent."
                    )
            if retry and previous is not None:
                conn.execute(
                    "UPDATE spends SET state = 'sending', updated_at = ? WHERE id = ?", (now, previous.id)
                )
                return Claim(kind="retry", row_id=previous.id, previous=previous)
            cur = conn.execute(
                "INSERT INTO spends (kind, fingerprint, backend, request, estimate_usd, state, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, 'sending', ?, ?)",
                (kind, print_, backend, json.dumps(dict(request), sort_keys=True), estimate_usd, now, now),
            )
            assert cur.lastrowid is not None
            return Claim(kind="new", row_id=cur.lastrowid)

    def lost(self, row_id: int) -> None:
        """The create was sent but its answer lost: the next identical call looks for the job before sending."""
        self._db.execute(
            "UPDATE spends SET state = 'unknown', updated_at = ? WHERE id = ?", (time.time(), row_id)
        )

    def finish(self, row_id: int, resource_id: str) -> None:
        self._db.execute(
            "UPDATE spends SET state = 'created', resource_id = ?, updated_at = ? WHERE id = ?",
            (resource_id, time.time(), row_id),
        )

    def fail(self, row_id: int) -> None:
        """The backend answered no: nothing was created, and the estimate no longer counts."""
        self._db.execute(
            "UPDATE spends SET state = 'failed', updated_at = ? WHERE id = ?", (time.time(), row_id)
        )

    def resource_ids(self, kind: str, *, within_s: float = DAY_S) -> set[str]:
        """The ids of what this server's creates of ``kind`` made in the window (whatever the request)."""
        rows = self._db.query(
            "SELECT resource_id FROM spends WHERE kind = ? AND resource_id IS NOT NULL AND created_at >= ?",
            (kind, time.time() - within_s),
        )
        return {row["resource_id"] for row in rows}

    def spent_last_day(self) -> float:
        """Sum of the estimates confirmed in the last 24 h (creates sent, or created)."""
        row = self._db.one(
            "SELECT COALESCE(SUM(estimate_usd), 0) AS total FROM spends WHERE state != 'failed' AND created_at >= ?",
            (time.time() - DAY_S,),
        )
        return float(row["total"]) if row is not None else 0.0

    def check_limits(
        self,
        usd: float | None,
        limits: SpendingLimits,
        *,
        what: str,
        smaller: str,
        why_unknown: str = "",
        unknown_checked_later: bool = False,
    ) -> list[str]:
        """Apply ``limits`` to ``usd`` (an estimate) before it is confirmed.

        Returns what a plan should say about the money: the last 24 h's spend and what this plan adds, then the
        limits; raises ``SpendingLimit`` when one would be broken, or when a limit applies and the price is unknown
        (the server cannot check it then), unless ``unknown_checked_later``: the backend's own estimate is checked
        before anything is created.
        """
        spent = self.spent_last_day()
        adds = f"${usd:,.2f}" if usd is not None else "an amount not known yet"
        total = f": ${spent + usd:,.2f} in all" if usd is not None else ""
        running = (
            f"Spent: ${spent:,.2f} confirmed by this server in the last 24 h; this plan adds {adds}{total}."
        )
        if not limits.any:
            return [
                running
                + " No spending limit is set (BYOM_MAX_USD, BYOM_MAX_USD_PER_DAY in the server's config "
                "set one)."
            ]
        if usd is None:
            applied = " and ".join(
                n
                for n in (
                    limits.per_action() if limits.max_usd is not None else None,
                    limits.per_day() if limits.max_usd_per_day is not None else None,
                )
                if n
            )
            if unknown_checked_later:
                later = f"The price is not known yet: after the upload, the backend's estimate is checked against {applied}"
                return [running, later + " before anything is created."]
            raise SpendingLimit(
                f"A spending limit applies ({applied}) and the server cannot check {what} against it: its price is "
                f"unknown. {why_unknown} Nothing was created. Fix what the reason says (a training file still being "
                "validated: wait a minute) and call again.".replace("  ", " ")
            )
        notes = [running]
        if limits.max_usd is not None:
            if usd > limits.max_usd:
                raise SpendingLimit(
                    f"{what.capitalize()} is estimated at ${usd:,.2f}, above this server's limit "
                    f"{limits.per_action()}. {smaller}, or ask the user to raise the limit. Nothing was created."
                )
            notes.append(f"Within {limits.per_action()}.")
        if limits.max_usd_per_day is not None:
            if spent + usd > limits.max_usd_per_day:
                raise SpendingLimit(
                    f"${spent:,.2f} was confirmed in the last 24 h; with {what}'s ${usd:,.2f} that is above "
                    f"{limits.per_day()}. Wait, or ask the user to raise the limit. Nothing was created."
                )
            left = f"${limits.max_usd_per_day - spent - usd:,.2f}"
            notes.append(
                f"{left} of BYOM_MAX_USD_PER_DAY left after this."
                if not limits.default_max_usd_per_day
                else f"{left} left after this under {limits.per_day()}."
            )
        return notes

    # -- uploads --

    def record_upload(self, backend: str, sha256: str, file_id: str) -> None:
        """A confirmed create uploaded these bytes to ``backend`` as ``file_id``."""
        self._db.execute(
            "INSERT OR REPLACE INTO uploads (backend, sha256, file_id, created_at) VALUES (?, ?, ?, ?)",
            (backend, sha256, file_id, time.time()),
        )

    def uploaded(self, backend: str, sha256: str) -> str | None:
        """The file id these bytes were uploaded to ``backend`` as, if a confirmed create uploaded them."""
        row = self._db.one("SELECT file_id FROM uploads WHERE backend = ? AND sha256 = ?", (backend, sha256))
        return None if row is None else str(row["file_id"])

    # -- confirmation tokens --

    def issue_token(self, plan_hash: str, *, ttl_s: float, client: str = "") -> str:
        """A token for ``plan_hash``, redeemable once, before ``ttl_s``, by ``client`` only."""
        token = secrets.token_urlsafe(24)
        self._db.execute(
            "INSERT INTO confirmations (token_hash, plan_hash, client_hash, expires_at) VALUES (?, ?, ?, ?)",
            (_token_hash(token), plan_hash, _token_hash(client), time.time() + ttl_s),
        )
        # Expired tokens are of no use to anyone: keep the table small.
        self._db.execute("DELETE FROM confirmations WHERE expires_at < ?", (time.time() - DAY_S,))
        return token

    def redeem_token(self, token: str, plan_hash: str, *, client: str = "") -> Redeemed:
        """Use a token for this plan, once, by the client it was issued to: a compare-and-set, so two calls
        with one token start one thing."""
        key = _token_hash(token)
        with self._db.transaction() as conn:
            row = conn.execute("SELECT * FROM confirmations WHERE token_hash = ?", (key,)).fetchone()
            if row is None:
                return Redeemed.UNKNOWN
            if row["used_at"] is not None:
                return Redeemed.USED
            if row["expires_at"] < time.time():
                return Redeemed.EXPIRED
            if not hmac.compare_digest(row["client_hash"], _token_hash(client)):
                return Redeemed.OTHER_CLIENT
            if not hmac.compare_digest(row["plan_hash"], plan_hash):
                return Redeemed.OTHER_PLAN
            conn.execute("UPDATE confirmations SET used_at = ? WHERE token_hash = ?", (time.time(), key))
        return Redeemed.OK


def _record(row: Any) -> SpendRecord:
    return SpendRecord(
        id=row["id"],
        kind=row["kind"],
        fingerprint=row["fingerprint"],
        backend=row["backend"],
        request=json.loads(row["request"]),
        estimate_usd=row["estimate_usd"],
        state=row["state"],
        resource_id=row["resource_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
