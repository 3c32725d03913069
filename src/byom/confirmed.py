"""What every confirmed operation (create, cancel, deploy, manage) shares, written once.

    plan function ──► a ConfirmedPlan: the backend, the request's ledger ``fingerprint``, the price it binds
                      ├─ plan_hash   = sha256(fingerprint, price): what a confirmation token is bound to
                      ├─ summary     = describe(): computed from the plan, never set afterwards
                      └─ check_spending(): the spending limits applied to its price (free backends: none)
    (the tools ask the user: ``byom.tools._confirm``)
    run function  ──► create_or_find(): a create whose answer was lost is looked for before anything else
                      poll_until(): wait for a state, with progress notifications

A new confirmed operation is a ``ConfirmedPlan`` subclass (its fields and ``describe``), a plan function and a
run function; the tool's wiring is ``byom.tools._confirm.Confirmation``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
from pydantic import BaseModel, Field

from byom.backend import Backend
from byom.errors import RequestOutcomeUnknown, TogetherAPIError
from byom.ledger import Ledger, SpendingLimits

__all__ = [
    "ConfirmedPlan",
    "Progress",
    "check_spending",
    "create_or_find",
    "outcome_unknown",
    "plan_hash",
    "poll_until",
]

T = TypeVar("T")

# A progress callback: (progress, total or None, message); the tools' ``progress_reporter`` makes one.
Progress = Callable[[float, float | None, str], Awaitable[None]]


def plan_hash(fingerprint: str, usd: float | None) -> str:
    """What a confirmation binds: the request (``byom.ledger.fingerprint``: the backend and the request, secrets
    removed) and the price the user was shown."""
    return hashlib.sha256(f"{fingerprint}:{usd!r}".encode()).hexdigest()


class ConfirmedPlan(BaseModel):
    """A plan the user confirms before it is carried out. Subclasses add their fields and ``describe``;
    ``bound_usd`` is the price a confirmation binds (None: no price). ``plan_hash`` and ``summary`` are computed
    when the plan is built, from the plan itself: never passed, never changed afterwards."""

    backend_url: str
    fingerprint: str
    # Fields, not computed_fields: the tools' output schemas are generated in validation mode, which leaves
    # computed fields out. Their defaults are placeholders that model_post_init replaces.
    plan_hash: str = Field("", description="What a confirmation binds: the request and its price.")
    summary: str = Field("", description="The plan in words, to show the user before they confirm.")
    dry_run: bool = Field(False, description="A dry run: the plan only, nothing asked, created or uploaded.")

    def describe(self) -> str:
        raise NotImplementedError

    @property
    def bound_usd(self) -> float | None:
        return None

    @property
    def needs_confirmation(self) -> bool:
        return True

    def model_post_init(self, context: Any, /) -> None:
        self.plan_hash = plan_hash(self.fingerprint, self.bound_usd)
        self.summary = self.describe()


def check_spending(
    backend: Backend,
    ledger: Ledger,
    usd: float | None,
    limits: SpendingLimits,
    *,
    what: str,
    smaller: str,
    why_unknown: str = "",
    unknown_checked_later: bool = False,
) -> list[str]:
    """The spending limits applied to a plan's price, as lines for its summary; raises ``SpendingLimit`` when
    one would be broken. A backend that costs nothing (the local engine) has no limits."""
    if not backend.costs_money:
        return []
    return ledger.check_limits(
        usd,
        limits,
        what=what,
        smaller=smaller,
        why_unknown=why_unknown,
        unknown_checked_later=unknown_checked_later,
    )


def outcome_unknown(exc: TogetherAPIError) -> bool:
    """Whether a create that failed with ``exc`` may still have happened. Only a 4xx (not 408) is a definite
    no: no answer, a timeout or a 5xx (a gateway's, after the origin may have stored it) is unknown."""
    definite = exc.status_code is not None and exc.status_code < 500 and exc.status_code != 408
    return isinstance(exc, RequestOutcomeUnknown) or not definite


async def create_or_find(
    create: Callable[[], Awaitable[T]], find: Callable[[], Awaitable[T | None]]
) -> tuple[T, bool]:
    """``create()``, and when its outcome is unknown, what ``find()`` finds of it; (the resource, whether it was
    found). Nothing found: the create's error is raised, and nothing is sent a second time."""
    try:
        return await create(), False
    except TogetherAPIError as exc:
        if not outcome_unknown(exc):
            raise
        found = await find()
        if found is None:
            raise
        return found, True


async def poll_until(
    fetch: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    *,
    wait_seconds: float,
    progress: Progress | None = None,
    report: Callable[[T, int], tuple[float, float | None, str]] = lambda _, tick: (tick, None, "waiting"),
    interval: float = 1.0,
) -> T:
    """``fetch()`` until ``done`` says so or ``wait_seconds`` run out; the last value either way. Between tries,
    ``progress`` gets what ``report(value, tries)`` says: (progress, total, message)."""
    deadline = time.monotonic() + max(0.0, wait_seconds)
    tick = 0
    while True:
        value = await fetch()
        if done(value) or time.monotonic() >= deadline:
            return value
        tick += 1
        if progress is not None:
            await progress(*report(value, tick))
        await anyio.sleep(min(interval, max(0.0, deadline - time.monotonic())))
