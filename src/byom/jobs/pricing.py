"""A create's price before anything is uploaded: the engine's (free), the backend's estimate for files it
holds, or a local file's exact token count × the packaged rate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import anyio
from pydantic import BaseModel, Field, SecretStr

from byom.backend import Backend
from byom.catalog import Catalog
from byom.jobs.files import FilePlan, with_ids
from byom.jobs.tokens import PlanTokens, count_tokens

if TYPE_CHECKING:
    from byom.jobs.launch import LaunchArgs
    from byom.together import FinetuneRequest

__all__ = ["PricePlan", "backend_estimate", "price_plan"]


class PricePlan(BaseModel):
    usd: float | None = Field(description="Estimated total price in US dollars; None when not available.")
    basis: str
    source: Literal["estimate", "offline", "free"] = Field(
        description="The backend's estimate; the packaged rate table (checked against the backend's estimate "
        "after the upload); or free (the local engine)."
    )
    train_tokens: float | None = Field(
        None,
        description="Training tokens, all epochs: the backend's estimate, or byom's count priced offline.",
    )
    tokens: PlanTokens | None = Field(
        None,
        description="byom's count with your model's tokenizer (check_training_data's): per epoch and in all.",
    )


async def price_plan(
    backend: Backend,
    args: LaunchArgs,
    request: FinetuneRequest,
    model: str,
    catalog: Catalog,
    training: FilePlan,
    validation: FilePlan | None,
    hf_token: SecretStr | None,
    max_seq_length: int,
    tokenizer: str | None = None,
) -> PricePlan:
    """The plan's price; ``model``: the base it is priced at; ``tokenizer``: the model whose tokenizer counts the
    data (your model, or a continued job's), None when not at hand."""
    from byom.catalog import offline_price  # the rate table loads on the first plan, not at start-up

    files = [f for f in (training, validation) if f is not None]
    on_backend = all(f.file_id is not None for f in files)
    if not backend.costs_money:
        tokens = None
        if on_backend:  # the engine counts the tokens of files it holds
            tokens = (
                await backend.client.estimate_price(with_ids(request, training, validation), with_model=True)
            ).estimated_train_token_count
        return PricePlan(
            usd=0.0,
            basis="The local engine trains on this machine: it costs nothing.",
            source="free",
            train_tokens=tokens,
        )
    if on_backend:
        return await backend_estimate(backend, with_ids(request, training, validation), model)
    # A local file is priced here, from its exact token count, before anything is uploaded.
    counted = await anyio.to_thread.run_sync(
        lambda: _billed_tokens(tokenizer, request, training, validation, hf_token, max_seq_length)
    )
    if isinstance(counted, str):
        return PricePlan(usd=None, basis=counted + _AFTER_UPLOAD_UNKNOWN, source="offline")
    billed, counts = counted
    price = offline_price(billed, catalog.get(model), method=args.method, training_type=args.training_type)
    if price.usd is None:
        return PricePlan(usd=None, basis=price.basis + _AFTER_UPLOAD_UNKNOWN, source="offline", tokens=counts)
    basis = (
        price.basis
        + " Together's own estimate is asked after the upload; if it is more than 10% higher, nothing "
        "is created and you are asked again."
    )
    return PricePlan(usd=price.usd, basis=basis, source="offline", train_tokens=float(billed), tokens=counts)


_AFTER_UPLOAD_UNKNOWN = (
    " Once confirmed, the data is uploaded and Together's estimate is held to the spending limits before the job "
    "is created."
)


def _billed_tokens(
    source: str | None,
    request: FinetuneRequest,
    training: FilePlan,
    validation: FilePlan | None,
    hf_token: SecretStr | None,
    max_seq_length: int,
) -> tuple[int, PlanTokens] | str:
    """Tokens processed, n_epochs × training tokens + n_evals × validation tokens (Together's pricing rule, ref
    together-2026-12.md), counted as training reads them (the model's tokenizer and chat template, rows cut at
    ``max_seq_length``: the plan's and the check's one count), with the training file's count; or why they cannot
    be counted here."""
    unknown = "The price is not known before the upload: "
    if source is None:
        return unknown + "the tokenizer of the model trained is not at hand."
    token = hf_token.get_secret_value() if hf_token is not None else None
    total = 0
    shown: PlanTokens | None = None
    for plan, times in ((training, request.n_epochs), (validation, request.n_evals or 0)):
        if plan is None or not times:
            continue
        if plan.path is None:
            return unknown + "one file is a file id and the other a local file."
        if plan.dataset_format == "tokenized" or plan.path.suffix.lower() != ".jsonl":
            return unknown + f"{plan.filename} is not JSONL text, which the tokenizer counts."
        try:
            stats = count_tokens(
                source,
                plan.path,
                max_seq_length=max_seq_length,
                sha256=plan.sha256 or "",
                token=token,
                download=True,
            )
        except Exception as exc:  # noqa: BLE001 - any tokenizer failure: the price is then the backend's
            return unknown + (
                f"the tokenizer of {source} could not count {plan.filename} "
                f"({exc if isinstance(exc, ValueError) else type(exc).__name__}); "
                "Together's estimate after the upload is the price."
            )
        total += times * stats.processed_tokens
        if plan is training:
            shown = PlanTokens.of(stats, n_epochs=times, max_seq_length=max_seq_length)
    assert shown is not None
    return total, shown


async def backend_estimate(backend: Backend, request: FinetuneRequest, model: str) -> PricePlan:
    """The backend's own estimate for ``request`` (its files on the backend)."""
    est = await backend.client.estimate_price(request)
    if not est.estimation_available:
        return PricePlan(
            usd=None,
            basis=f"Together could not estimate the price ({est.unavailable_reason or 'no reason given'}).",
            source="estimate",
        )
    tokens = est.estimated_train_token_count
    basis = (
        f"Together's estimate for base {model}: BYOM jobs are priced by the base template, not by the custom "
        "model's size"
        + (f", for about {tokens:,.0f} training tokens" if tokens else "")
        + ". The final bill counts the tokens actually trained."
    )
    if est.allowed_to_proceed is False:
        basis += " Together says this is above the account's credit limit and balance: the job would likely be cancelled."
    return PricePlan(usd=est.estimated_total_price, basis=basis, source="estimate", train_tokens=tokens)
