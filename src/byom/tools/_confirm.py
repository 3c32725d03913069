"""Confirmation before anything spends or deletes: elicitation where the host can ask, a token where it can't.

    the plan's resolver ─► ask() ─┬─ a dry run (dry_run=true)                  → stop: the plan, nothing asked
                                  ├─ nothing to confirm (an existing job)      → go
                                  ├─ BYOM_AUTO_CONFIRM=1                       → go, and the result says so
                                  ├─ confirm_token given                       → settle() redeems it
                                  ├─ the client declared form elicitation      → Elicit(plan.summary, Confirm)
                                  └─ otherwise                                 → settle() returns the plan + a token

Elicitation goes through the SDK's ``Resolve``/``Elicit`` dependencies, which pick the transport per
protocol era: a mid-call ``elicitation/create`` on legacy sessions, a multi-round-trip ``input_required``
result on 2026-07-28 ones (where ``ctx.elicit()`` would fail). A token is bound to a hash of exactly the
plan it was issued with (arguments, base, files, price) and to the client it was shown to (over HTTP: the
session and the bearer credential; stdio is one client), single-use and short-lived, so a model cannot
confirm a plan the user never saw; a bare ``confirm=true`` does not exist. None of this stops a client that
fakes the user's answer: the spending limits are the boundary. A plan confirmed by token (no form a person
answered) is held to default caps where the user set no ``BYOM_MAX_USD`` / ``BYOM_MAX_USD_PER_DAY``
(``spending_limits``); an elicited one to the user's own limits only.

A confirmed tool is wired by ``Confirmation`` (its plan function and its arguments' model; the plan itself,
its hash and summary, are ``byom.confirmed.ConfirmedPlan``)::

    _cancel = Confirmation("cancel_job", CancelArgs, _plan_cancel, CancelPlan)

    async def cancel_job(ctx, job_id: JobIdArg, confirm_token: ConfirmTokenArg = None, *,
                         plan: Annotated[CancelPlan, Resolve(_cancel.plan)],
                         answer: Annotated[ElicitationResult[Confirm], Resolve(_cancel.answer)]):
        settled = _cancel.settle(ctx, plan, answer, confirm_token)
        if not settled.go: ...   # the stopped result: settled.stopped
        ...                      # the action

    _cancel.bind(cancel_job)     # refuses a parameter the model lacks (or the reverse)
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Generic, Literal, TypeVar

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context, Elicit, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from byom.confirmed import ConfirmedPlan
from byom.ledger import Redeemed, SpendingLimits
from byom.tools._arguments import takes_arguments_of
from byom.tools._common import AppState, domain_errors, state

__all__ = [
    "BOUND",
    "TOKEN_TTL_S",
    "Confirm",
    "ConfirmTokenArg",
    "Confirmation",
    "Decision",
    "Settled",
    "ask",
    "settle",
    "spending_limits",
]

A = TypeVar("A", bound=BaseModel)
# Every bound confirmed tool by name (tests check each against its workflow's model).
BOUND: dict[str, Confirmation[Any, Any]] = {}
P = TypeVar("P", bound=ConfirmedPlan)

TOKEN_TTL_S = 600.0
ConfirmTokenArg = Annotated[
    str | None,
    Field(description="Of a plan the user agreed to (hosts without forms).", max_length=200),
]


class Confirm(BaseModel):
    """The one question asked (flat, as elicitation schemas must be)."""

    confirm: bool = Field(description="Yes: go ahead as described.")


class Decision(BaseModel):
    """How a plan is confirmed when nobody is asked."""

    how: Literal["dry_run", "not_needed", "auto", "token", "needs_token"]


class Settled(BaseModel):
    """The outcome of confirming: go, or stop with this status (nothing was done)."""

    go: bool
    status: Literal[
        "confirmed", "auto_confirmed", "not_needed", "confirmation_required", "declined", "dry_run"
    ]
    confirm_token: str | None = None
    note: str

    @property
    def stopped(self) -> dict[str, Any]:
        """The fields of a result that did nothing: a dry run, the user said no, or the host must ask them (and
        the token)."""
        status = self.status if self.status in ("declined", "dry_run") else "confirmation_required"
        return {"status": status, "confirm_token": self.confirm_token, "note": self.note}


def _can_elicit(ctx: Context[AppState, Any]) -> bool:
    caps = ctx.client_capabilities
    elicitation = caps.elicitation if caps is not None else None
    # A bare `elicitation: {}` (before modes existed) means form support; url-only does not.
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def _by_token(ctx: Context[AppState, Any], confirm_token: str | None) -> bool:
    """Whether this call's plan is (or will be) confirmed by a token rather than a form a person answered:
    ``ask``'s rule, which ``spending_limits`` shares."""
    if state(ctx).settings.auto_confirm:
        return False  # the user chose to confirm nothing: their own limits apply
    return bool(confirm_token) or not _can_elicit(ctx)


def spending_limits(ctx: Context[AppState, Any], confirm_token: str | None) -> SpendingLimits:
    """The limits this call's plan is held to: the user's, plus the token defaults where confirmed by token."""
    settings = state(ctx).settings
    return SpendingLimits.of(
        settings.max_usd, settings.max_usd_per_day, by_token=_by_token(ctx, confirm_token)
    )


def _client(ctx: Context[AppState, Any]) -> str:
    """The MCP client as far as the transport tells it apart: over HTTP its session id and bearer credential
    (the SDK routes a session id only to its own session; the credential is checked before any tool runs);
    on stdio and in memory there is one client."""
    headers = ctx.headers
    if headers is None:
        return ""
    return "\n".join((headers.get("authorization", ""), headers.get("mcp-session-id", "")))


def ask(
    ctx: Context[AppState, Any], plan: ConfirmedPlan, confirm_token: str | None
) -> Elicit[Confirm] | Decision:
    """What the confirmation resolver returns; deterministic in the plan, as resolvers re-run each round."""
    if plan.dry_run:  # before anything else: a dry run asks nobody, issues no token, starts nothing
        return Decision(how="dry_run")
    if not plan.needs_confirmation:
        return Decision(how="not_needed")
    if state(ctx).settings.auto_confirm:
        return Decision(how="auto")
    if _by_token(ctx, confirm_token):
        return Decision(how="token" if confirm_token else "needs_token")
    return Elicit(plan.summary, Confirm)


def settle(
    ctx: Context[AppState, Any],
    plan: ConfirmedPlan,
    answer: ElicitationResult[Confirm],
    confirm_token: str | None,
    *,
    retry_hint: str,
) -> Settled:
    """Turn the resolver's outcome into go / stop; raises ``ToolError`` for a token that does not hold."""
    if not isinstance(answer, AcceptedElicitation):
        return Settled(go=False, status="declined", note="The user declined: nothing was created or changed.")
    data: object = answer.data
    if isinstance(data, Confirm):
        if data.confirm:
            return Settled(go=True, status="confirmed", note="The user confirmed it.")
        return Settled(go=False, status="declined", note="The user said no: nothing was created or changed.")
    assert isinstance(data, Decision)
    if data.how == "dry_run":
        return Settled(
            go=False,
            status="dry_run",
            note="Dry run: nothing was created, uploaded or asked. To go ahead, call again without dry_run "
            "(the user confirms the plan first).",
        )
    if data.how == "not_needed":
        return Settled(go=True, status="not_needed", note="Nothing new to confirm.")
    if data.how == "auto":
        return Settled(
            go=True, status="auto_confirmed", note="Confirmed without asking: BYOM_AUTO_CONFIRM=1 is set."
        )
    ledger = state(ctx).ledger
    if data.how == "needs_token":
        token = ledger.issue_token(plan.plan_hash, ttl_s=TOKEN_TTL_S, client=_client(ctx))
        return Settled(
            go=False,
            status="confirmation_required",
            confirm_token=token,
            note=(
                "Nothing was created yet. Show the user this plan and ask them. If they agree, call again with the same "
                f"arguments and confirm_token={token!r} (valid {TOKEN_TTL_S / 60:.0f} minutes, once, for exactly "
                "this plan)."
            ),
        )
    assert confirm_token is not None
    outcome = ledger.redeem_token(confirm_token, plan.plan_hash, client=_client(ctx))
    if outcome is Redeemed.OK:
        return Settled(go=True, status="confirmed", note="Confirmed with the token issued for this plan.")
    why = {
        Redeemed.UNKNOWN: "is not one this server issued (or it was altered)",
        Redeemed.USED: "was already used: a token confirms one plan once",
        Redeemed.EXPIRED: f"expired (tokens last {TOKEN_TTL_S / 60:.0f} minutes)",
        Redeemed.OTHER_PLAN: "was issued for a different plan: the arguments, the data or the price changed",
        Redeemed.OTHER_CLIENT: (
            "was issued to another client (another MCP session or credential): a token confirms a plan only for "
            "the client that was shown it"
        ),
    }[outcome]
    raise ToolError(
        f"The confirm_token {why}. Nothing was started or changed. {retry_hint} without confirm_token to get the "
        "current plan and a new token, show it to the user, and pass that token only if they agree."
    )


class Confirmation(Generic[A, P]):
    """The resolve/confirm pair of one confirmed tool, written once.

    ``plan(ctx, args, limits)`` builds the plan from the tool's arguments, validated into ``args`` (the workflow's
    model, ``extra="forbid"``: the one declaration the plan reads; ``bind`` refuses a tool whose parameters and
    that model differ); ``limits`` are the spending limits this call's plan is held to. The tool declares
    ``plan: Annotated[ThePlan, Resolve(x.plan)]`` and ``answer: Annotated[ElicitationResult[Confirm],
    Resolve(x.answer)]``, calls ``x.settle(...)`` first, and ``x.bind(tool)`` follows its definition.
    """

    def __init__(
        self,
        tool_name: str,
        args: type[A],
        plan: Callable[[Context[AppState, Any], A, SpendingLimits], Awaitable[P]],
        plan_type: type[P],
        *,
        tool_only: tuple[str, ...] = (),
    ) -> None:
        self.tool_name = tool_name
        self.args = args
        self.tool_only = tool_only

        async def resolve_plan(ctx: Context[AppState, Any], **arguments: Any) -> P:
            given = {k: v for k, v in arguments.items() if k in args.model_fields}
            limits = spending_limits(ctx, arguments.get("confirm_token"))
            with domain_errors():
                return await plan(ctx, args.model_validate(given), limits)

        def resolve_answer(
            ctx: Context[AppState, Any], plan: P, confirm_token: str | None
        ) -> Elicit[Confirm] | Decision:
            return ask(ctx, plan, confirm_token)

        resolve_plan.__annotations__ = {"ctx": Context, "return": plan_type}
        # Real objects, not strings: the SDK reads them with get_type_hints, and Resolve(resolve_plan) is local.
        resolve_answer.__annotations__ = {
            "ctx": Context,
            "plan": Annotated[plan_type, Resolve(resolve_plan)],
            "confirm_token": str | None,
            "return": Elicit[Confirm] | Decision,
        }
        self.plan = resolve_plan
        self.answer = resolve_answer

    def parameters(self, tool: Callable[..., Any]) -> set[str]:
        """The tool's parameters that its plan reads (all but the context, the token, the resolved ones and
        ``tool_only``)."""
        skip = {"ctx", "confirm_token", "plan", "answer", *self.tool_only}
        return {name for name in inspect.signature(tool).parameters if name not in skip}

    def bind(self, tool: Callable[..., Any]) -> None:
        """Give the plan resolver the tool's arguments; a tool parameter the workflow's model lacks (or the reverse)
        fails here, at import, rather than being dropped silently."""
        declared, model = self.parameters(tool), set(self.args.model_fields)
        if declared != model:
            raise TypeError(
                f"{self.tool_name}'s parameters and {self.args.__name__} differ: only the tool has "
                f"{sorted(declared - model)}, only the model has {sorted(model - declared)}."
            )
        takes_arguments_of(self.plan, tool, resolved=("plan", "answer"))
        BOUND[self.tool_name] = self

    def settle(
        self,
        ctx: Context[AppState, Any],
        plan: ConfirmedPlan,
        answer: ElicitationResult[Confirm],
        confirm_token: str | None,
    ) -> Settled:
        return settle(
            ctx, plan, answer, confirm_token, retry_hint=f"Call {self.tool_name} with the same arguments"
        )
