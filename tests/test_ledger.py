"""The MCP server's ledger: migrations at open, a private file, the create rows and the confirmation tokens."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest

import byom.ledger as ledger_module
from byom.errors import CreateInFlight, SpendingLimit
from byom.ledger import (
    DAY_S,
    MIGRATIONS,
    TOKEN_MAX_USD,
    TOKEN_MAX_USD_PER_DAY,
    Ledger,
    Redeemed,
    SpendingLimits,
    fingerprint,
)
from byom.storage import SQLiteStore

T0 = 1_800_000_000.0


class Clock:
    """Stands in for the ``time`` module the ledger reads the time from."""

    def __init__(self) -> None:
        self.now = T0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(ledger_module, "time", fake)
    return fake


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "byom" / "ledger.sqlite3"


@pytest.fixture
def ledger(path: Path) -> Iterator[Ledger]:
    opened = Ledger(path)
    yield opened
    opened.close()


def _tables(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _applied(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY name")]


# ---- the file ----------------------------------------------------------------------------------------


def test_a_new_ledger_is_migrated_at_open(path: Path) -> None:
    Ledger(path).close()
    assert {"spends", "confirmations", "_migrations"} <= _tables(path)
    assert _applied(path) == [name for name, _ in MIGRATIONS]


def test_a_ledger_of_an_earlier_version_is_brought_up_to_date_and_keeps_its_rows(path: Path) -> None:
    old = SQLiteStore(path, MIGRATIONS[:1])  # before the confirmations table existed
    old.execute(
        "INSERT INTO spends (kind, fingerprint, backend, request, estimate_usd, state, created_at, updated_at) "
        "VALUES ('finetune', 'fp', 'http://b', '{}', 2.5, 'created', ?, ?)",
        (T0, T0),
    )
    old.close()
    assert "confirmations" not in _tables(path)
    reopened = Ledger(path)
    try:
        assert _applied(path) == [name for name, _ in MIGRATIONS]
        token = reopened.issue_token("plan", ttl_s=60)
        assert reopened.redeem_token(token, "plan") is Redeemed.OK
    finally:
        reopened.close()
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT estimate_usd FROM spends").fetchall() == [(2.5,)]


def test_reopening_applies_nothing_again(path: Path) -> None:
    Ledger(path).close()
    store = SQLiteStore(path, MIGRATIONS)
    try:
        assert store.migrate() == []
    finally:
        store.close()


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_the_ledger_is_private_to_the_user_whatever_the_umask(path: Path) -> None:
    previous = os.umask(0o000)
    try:
        opened = Ledger(path)
        opened.issue_token("plan", ttl_s=60)  # a write: the WAL files exist now
        try:
            for own in path.parent.iterdir():
                assert stat.S_IMODE(own.stat().st_mode) == 0o600, own
            assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        finally:
            opened.close()
    finally:
        os.umask(previous)


# ---- creates -----------------------------------------------------------------------------------------


def _begin(
    ledger: Ledger, kind: str, print_: str, backend: str, request: dict[str, object], usd: float
) -> int:
    """A row being sent, whatever came before (the primitive under ``claim``'s decisions)."""
    return ledger.claim(kind, print_, backend, request, usd, force_new=True, in_flight_s=0).row_id


def test_fingerprint_is_canonical_and_bound_to_the_backend() -> None:
    a = fingerprint("http://b", {"model": "m", "n_epochs": 1})
    assert a == fingerprint("http://b", {"n_epochs": 1, "model": "m"})
    assert a != fingerprint("http://other", {"model": "m", "n_epochs": 1})
    assert a != fingerprint("http://b", {"model": "m", "n_epochs": 2})


def test_begin_finish_and_recent(ledger: Ledger, clock: Clock) -> None:
    assert ledger.recent("finetune", "fp") is None
    row = _begin(ledger, "finetune", "fp", "http://b", {"model": "m"}, 3.0)
    sending = ledger.recent("finetune", "fp")
    assert sending is not None
    assert (sending.id, sending.state, sending.resource_id, sending.request) == (
        row,
        "sending",
        None,
        {"model": "m"},
    )
    assert sending.created_at == T0

    ledger.finish(row, "ft-1")
    done = ledger.recent("finetune", "fp")
    assert done is not None and (done.state, done.resource_id) == ("created", "ft-1")
    # Another kind, another fingerprint: not the same create.
    assert ledger.recent("deployment", "fp") is None
    assert ledger.recent("finetune", "other") is None


def test_recent_is_the_newest_create_in_the_window_that_did_not_fail(ledger: Ledger, clock: Clock) -> None:
    first = _begin(ledger, "finetune", "fp", "http://b", {}, 1.0)
    ledger.finish(first, "ft-1")
    clock.now += 10
    second = _begin(ledger, "finetune", "fp", "http://b", {}, 1.0)
    ledger.finish(second, "ft-2")
    clock.now += 10
    failed = _begin(ledger, "finetune", "fp", "http://b", {}, 1.0)
    ledger.fail(failed)
    newest = ledger.recent("finetune", "fp")
    assert newest is not None and newest.resource_id == "ft-2"

    clock.now = T0 + 10 + DAY_S + 1  # the second create is now more than a day old
    assert ledger.recent("finetune", "fp") is None
    assert ledger.recent("finetune", "fp", within_s=2 * DAY_S) is not None


def test_spent_last_day_sums_the_creates_sent_in_the_last_24_h(ledger: Ledger, clock: Clock) -> None:
    assert ledger.spent_last_day() == 0.0
    created = _begin(ledger, "finetune", "a", "http://b", {}, 2.0)
    ledger.finish(created, "ft-1")
    _begin(ledger, "finetune", "b", "http://b", {}, 3.0)  # sent, answer lost: it may be billing
    ledger.fail(_begin(ledger, "finetune", "c", "http://b", {}, 100.0))  # refused: nothing to pay
    _begin(ledger, "deployment", "d", "http://b", {}, 0.5)
    assert ledger.spent_last_day() == pytest.approx(5.5)
    clock.now += DAY_S + 1
    assert ledger.spent_last_day() == 0.0


def test_resource_ids_are_what_the_creates_of_a_kind_made(ledger: Ledger, clock: Clock) -> None:
    ledger.finish(_begin(ledger, "finetune", "a", "http://b", {}, 0.0), "ft-1")
    ledger.finish(_begin(ledger, "finetune", "b", "http://b", {}, 0.0), "ft-2")
    _begin(ledger, "finetune", "c", "http://b", {}, 0.0)  # no id yet
    ledger.finish(_begin(ledger, "deployment", "d", "http://b", {}, 0.0), "dep-1")
    assert ledger.resource_ids("finetune") == {"ft-1", "ft-2"}
    clock.now += DAY_S + 1
    assert ledger.resource_ids("finetune") == set()


# ---- confirmation tokens -----------------------------------------------------------------------------


def test_a_token_redeems_once_for_its_plan(ledger: Ledger, clock: Clock) -> None:
    token = ledger.issue_token("plan-a", ttl_s=600)
    assert ledger.redeem_token(token, "plan-b") is Redeemed.OTHER_PLAN
    assert ledger.redeem_token(token + "x", "plan-a") is Redeemed.UNKNOWN
    # Neither refusal used it up.
    assert ledger.redeem_token(token, "plan-a") is Redeemed.OK
    assert ledger.redeem_token(token, "plan-a") is Redeemed.USED


def test_a_token_expires(ledger: Ledger, clock: Clock) -> None:
    token = ledger.issue_token("plan", ttl_s=600)
    clock.now += 601
    assert ledger.redeem_token(token, "plan") is Redeemed.EXPIRED


def test_only_a_hash_of_a_token_is_stored(path: Path, ledger: Ledger) -> None:
    token = ledger.issue_token("plan", ttl_s=600)
    ledger.close()
    stored = b"".join(p.read_bytes() for p in path.parent.iterdir())
    assert token.encode() not in stored


def test_expired_tokens_are_cleaned_up_a_day_later(path: Path, ledger: Ledger, clock: Clock) -> None:
    ledger.issue_token("old", ttl_s=1)
    clock.now += DAY_S + 2
    ledger.issue_token("new", ttl_s=1)
    with closing(sqlite3.connect(path)) as conn:
        assert [r[0] for r in conn.execute("SELECT plan_hash FROM confirmations")] == ["new"]


@pytest.mark.parametrize("connections", ["one ledger", "a ledger per thread"])
def test_one_token_redeemed_from_many_threads_confirms_exactly_once(path: Path, connections: str) -> None:
    n = 8
    shared = Ledger(path)
    token = shared.issue_token("plan", ttl_s=600)
    ledgers = [shared] * n if connections == "one ledger" else [Ledger(path) for _ in range(n)]
    start = threading.Barrier(n)  # all redeem together, whatever the scheduler does before

    def redeem(ledger: Ledger) -> Redeemed:
        start.wait(timeout=60)
        return ledger.redeem_token(token, "plan")

    try:
        with ThreadPoolExecutor(max_workers=n) as pool:
            outcomes = list(pool.map(redeem, ledgers))
    finally:
        for opened in {id(x): x for x in (shared, *ledgers)}.values():
            opened.close()
    assert sorted(outcomes) == sorted([Redeemed.OK] + [Redeemed.USED] * (n - 1))


# ---- claim: one create in flight, the made job reused, a lost one retried on its row -----------------


def test_a_create_in_flight_is_refused_and_a_made_one_is_returned(ledger: Ledger, clock: Clock) -> None:
    first = ledger.claim("finetune", "fp", "http://b", {}, 1.0)
    assert first.kind == "new"
    with pytest.raises(CreateInFlight):
        ledger.claim("finetune", "fp", "http://b", {}, 1.0)
    with pytest.raises(CreateInFlight):  # force_new never overlaps a create being sent either
        ledger.claim("finetune", "fp", "http://b", {}, 1.0, force_new=True)
    ledger.finish(first.row_id, "ft-1")
    again = ledger.claim("finetune", "fp", "http://b", {}, 1.0)
    assert again.kind == "created" and again.previous is not None and again.previous.resource_id == "ft-1"
    assert ledger.claim("finetune", "fp", "http://b", {}, 1.0, force_new=True).kind == "new"


def test_a_lost_create_is_retried_on_its_own_row(ledger: Ledger, clock: Clock) -> None:
    first = ledger.claim("finetune", "fp", "http://b", {}, 1.0)
    ledger.lost(first.row_id)
    retry = ledger.claim("finetune", "fp", "http://b", {}, 1.0)
    assert (retry.kind, retry.row_id) == ("retry", first.row_id)
    # A row left 'sending' by a crash counts as lost once it is older than the in-flight window.
    clock.now += 301
    crashed = ledger.claim("finetune", "fp", "http://b", {}, 1.0)
    assert (crashed.kind, crashed.row_id) == ("retry", first.row_id)


def test_the_daily_limit_is_checked_again_at_claim(ledger: Ledger, clock: Clock) -> None:
    ledger.finish(ledger.claim("finetune", "a", "http://b", {}, 8.0).row_id, "ft-a")
    with pytest.raises(SpendingLimit, match="BYOM_MAX_USD_PER_DAY"):
        ledger.claim("finetune", "b", "http://b", {}, 3.0, limits=SpendingLimits(max_usd_per_day=10.0))
    assert (
        ledger.claim("finetune", "b", "http://b", {}, 2.0, limits=SpendingLimits(max_usd_per_day=10.0)).kind
        == "new"
    )


def test_many_threads_claiming_one_create_send_it_once(path: Path) -> None:
    ledgers = [Ledger(path) for _ in range(8)]
    try:
        barrier = threading.Barrier(len(ledgers))

        def claim(own: Ledger) -> str:
            barrier.wait()
            try:
                return own.claim("finetune", "fp", "http://b", {}, 1.0).kind
            except CreateInFlight:
                return "in flight"

        with ThreadPoolExecutor(len(ledgers)) as pool:
            kinds = sorted(pool.map(claim, ledgers))
    finally:
        for own in ledgers:
            own.close()
    assert kinds == ["in flight"] * 7 + ["new"]


def test_a_token_confirmation_gets_default_caps_only_where_the_user_set_none() -> None:
    assert SpendingLimits.of(None, None, by_token=False) == SpendingLimits()
    capped = SpendingLimits.of(None, None, by_token=True)
    assert (capped.max_usd, capped.max_usd_per_day) == (TOKEN_MAX_USD, TOKEN_MAX_USD_PER_DAY) == (25.0, 100.0)
    assert "set BYOM_MAX_USD in the server's environment to raise it" in capped.per_action()
    own = SpendingLimits.of(50.0, None, by_token=True)
    assert own.per_action() == "BYOM_MAX_USD=$50.00" and own.max_usd_per_day == 100.0


def test_an_unknown_price_checked_after_the_upload_is_a_note_not_a_refusal(ledger: Ledger) -> None:
    limits = SpendingLimits(max_usd=10.0)
    spent, note = ledger.check_limits(
        None, limits, what="this job", smaller="Less", unknown_checked_later=True
    )
    assert "this plan adds an amount not known yet" in spent
    assert "after the upload" in note and "BYOM_MAX_USD=$10.00" in note
    with pytest.raises(SpendingLimit, match="price is unknown"):
        ledger.check_limits(None, limits, what="this job", smaller="Less")


def test_a_token_is_redeemed_only_by_the_client_it_was_issued_to(ledger: Ledger) -> None:
    token = ledger.issue_token("plan", ttl_s=600, client="session-a")
    assert ledger.redeem_token(token, "plan", client="session-b") is Redeemed.OTHER_CLIENT
    assert ledger.redeem_token(token, "plan") is Redeemed.OTHER_CLIENT
    assert ledger.redeem_token(token, "plan", client="session-a") is Redeemed.OK


def test_an_upload_is_remembered_per_backend_and_content(ledger: Ledger) -> None:
    ledger.record_upload("http://b", "abc", "file-1")
    assert ledger.uploaded("http://b", "abc") == "file-1"
    assert ledger.uploaded("http://other", "abc") is None and ledger.uploaded("http://b", "def") is None


def test_every_plan_shows_the_last_day_s_spend_and_what_it_adds_even_with_no_limit_set(
    ledger: Ledger,
) -> None:
    # Before #16 a plan with no limit set said nothing: the assistant kept a $10 budget's tally by hand.
    row = ledger.claim("finetune", "fp", "http://b", {}, 3.5).row_id
    ledger.finish(row, "ft-1")
    (line,) = ledger.check_limits(4.0, SpendingLimits(), what="this job", smaller="Less")
    assert "$3.50 confirmed by this server in the last 24 h; this plan adds $4.00: $7.50 in all" in line
    assert "No spending limit is set" in line
    running, within, left = ledger.check_limits(
        4.0, SpendingLimits(max_usd=5.0, max_usd_per_day=10.0), what="this job", smaller="Less"
    )
    assert (
        "$7.50 in all" in running
        and "BYOM_MAX_USD=$5.00" in within
        and "$2.50 of BYOM_MAX_USD_PER_DAY" in left
    )
