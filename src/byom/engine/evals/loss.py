"""Held-out loss and perplexity of a model on a validation file, with exactly training's masking.

    rows (JSONL, training's formats) ─► trainer._tokenize.load_examples   (the trainer's rows → ids + labels,
                                                                           truncation and dropped rows)
                                    ─► SFTObjective.sequence_losses       (the trainer's loss, per example)
                                    ─► HeldoutLoss: token-weighted mean loss, perplexity, per-example sums

The figure is the one training's ``eval/loss`` reports on the same file (same rows kept, same tokens counted,
sample weights applied), so a base and its fine-tune are compared on what the loss saw during training.
Batches bound the memory (activations of ``batch_size`` examples at a time); ``max_examples`` bounds the
tokens held. The per-example sums give the noise: the standard error of the mean, and of the paired
difference between two models on the same examples (``compare``).

Forgetting: the same loss on ``general_text.jsonl`` (shipped beside this module: 40 short paragraphs of
general English prose on everyday, science, history and practical topics, written for byom-mcp and released
under CC0 1.0; no source text was copied). A fine-tune whose loss there rises a lot has lost general ability.

The evaluation type ``"loss"`` (a byom extension of Together's ``/v1/evaluation``; the runner dispatches to
``heldout_loss``)::

    POST /v1/evaluation
    {"type": "loss",
     "parameters": {"input_data_file_path": "file-…",   # a validation file (JSONL, training's formats)
                    "model_a": "<a model the engine serves>",   # the baseline (A)
                    "model_b": "<a model the engine serves>",   # the fine-tune (B)
                    "forgetting": true,                 # also on the packaged general-text sample
                    "max_examples": 500,                # optional, default 500
                    "max_seq_length": 2048,             # optional, default the model's context
                    "train_on_inputs": "auto"}}         # optional: the job's setting (what the loss saw)
    → {"workflow_id": "eval-…", "status": "pending"}

    GET /v1/evaluation/{id}  → {..., "type": "loss", "status": "completed",
     "results": {"task":       {"model_a": L, "model_b": L, "difference": D},
                 "forgetting": {"model_a": L, "model_b": L, "difference": D} | null}}
    L = {"loss", "perplexity", "std_error", "n_examples", "n_dropped", "tokens", "vocab_size"}   (``.summary``)
    D = {"difference": B − A, "std_error", "n_examples"}                         (``LossDifference``)

``LossParameters`` validates those parameters; ``run_loss(parameters, data, resolve)`` is the type's run:
``resolve`` turns a served name into its loaded model and adapter (the engine's ``DeployRuntime.resolve``), and
the answer is ``loss_results``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from byom.data import decide_max_seq_length
from byom.engine.deploy.host import LoadedModel, LoadSpec
from byom.engine.evals.bodies import Parameters
from byom.errors import EngineError

__all__ = [
    "DEFAULT_MAX_EXAMPLES",
    "HeldoutLoss",
    "LossDifference",
    "LossParameters",
    "LossSummary",
    "Served",
    "compare",
    "general_text",
    "heldout_loss",
    "loss_of_loaded",
    "loss_results",
    "run_loss",
]

DEFAULT_MAX_EXAMPLES = 500


def general_text() -> Path:
    """The packaged general-text sample (``general_text.jsonl``, CC0 1.0) the forgetting check reads."""
    return Path(str(resources.files("byom.engine.evals").joinpath("general_text.jsonl")))


class LossSummary(BaseModel):
    """One model's held-out loss, as an evaluation result reports it."""

    loss: float = Field(description="Mean cross-entropy per loss token (what training's eval/loss reports).")
    perplexity: float = Field(description="exp(loss).")
    std_error: float | None = Field(description="Standard error of the loss over examples; None under 2.")
    n_examples: int = Field(description="Examples scored (rows with at least one loss token).")
    n_dropped: int = Field(description="Rows skipped: nothing to learn from after masking or truncation.")
    tokens: int = Field(description="Loss tokens scored.")
    vocab_size: int | None = Field(
        None,
        description="The tokenizer's vocabulary: a perplexity near it is a uniform guess (an untrained model).",
    )


class HeldoutLoss(BaseModel):
    """A model's loss on one file: per-example sums (weighted cross-entropy) and loss-token counts."""

    example_sums: list[float]
    example_tokens: list[int]
    n_dropped: int = 0
    vocab_size: int | None = None

    @property
    def tokens(self) -> int:
        return sum(self.example_tokens)

    @property
    def loss(self) -> float:
        return sum(self.example_sums) / max(1, self.tokens)

    @property
    def summary(self) -> LossSummary:
        return LossSummary(
            loss=self.loss,
            perplexity=math.exp(min(self.loss, 700.0)),
            std_error=_ratio_std_error(self.example_sums, self.example_tokens),
            n_examples=len(self.example_sums),
            n_dropped=self.n_dropped,
            tokens=self.tokens,
            vocab_size=self.vocab_size,
        )


class LossDifference(BaseModel):
    """B's loss minus A's on the same examples (negative: B is better) and its standard error (paired)."""

    difference: float
    std_error: float | None
    n_examples: int


def _ratio_std_error(sums: list[float], tokens: list[int]) -> float | None:
    """Standard error of sum(sums)/sum(tokens), a ratio of per-example totals (the delta method): examples are
    the independent units, so long and short examples weigh as much as their tokens."""
    n = len(sums)
    total_tokens = sum(tokens)
    if n < 2 or total_tokens == 0:
        return None
    ratio = sum(sums) / total_tokens
    mean_tokens = total_tokens / n
    spread = sum((s - ratio * t) ** 2 for s, t in zip(sums, tokens, strict=True)) / (n - 1)
    return math.sqrt(spread / n) / mean_tokens


def compare(a: HeldoutLoss, b: HeldoutLoss) -> LossDifference:
    """B − A on the same file; paired per example, so what both find hard cancels out of the noise."""
    if a.example_tokens != b.example_tokens:
        raise EngineError(
            "The two models scored different tokens of the same file (different tokenizers?); their losses are "
            "not comparable example by example. Compare a fine-tune with the base it was trained from."
        )
    diffs = [sb - sa for sa, sb in zip(a.example_sums, b.example_sums, strict=True)]
    return LossDifference(
        difference=b.loss - a.loss,
        std_error=_ratio_std_error(diffs, a.example_tokens),
        n_examples=len(diffs),
    )


def loss_results(
    a: HeldoutLoss, b: HeldoutLoss, forgetting: tuple[HeldoutLoss, HeldoutLoss] | None = None
) -> dict[str, Any]:
    """The ``results`` of a ``"loss"`` evaluation (this module's docstring)."""

    def pair(x: HeldoutLoss, y: HeldoutLoss) -> dict[str, Any]:
        return {
            "model_a": x.summary.model_dump(),
            "model_b": y.summary.model_dump(),
            "difference": compare(x, y).model_dump(),
        }

    return {"task": pair(a, b), "forgetting": pair(*forgetting) if forgetting else None}


def loss_of_loaded(
    loaded: LoadedModel,
    data: Path,
    *,
    adapter: str | None = None,
    train_on_inputs: bool | Literal["auto"] = "auto",
    max_seq_length: int | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    batch_size: int = 4,
) -> HeldoutLoss:
    """The held-out loss of a model already loaded (``LoadedModel``: the engine's serving runtime holds one), with
    ``adapter`` (an attached PEFT adapter's name) active, or the loaded model alone."""
    import torch

    from byom.engine.trainer._objective import SFTObjective
    from byom.engine.trainer._tokenize import load_examples

    seq = decide_max_seq_length(max_seq_length, context=loaded.context_length).value
    examples, dropped = load_examples(
        loaded.tokenizer, data, train_on_inputs=train_on_inputs, max_seq_length=seq, limit=max_examples
    )
    if not examples:
        raise EngineError(
            f"No row of {data.name} has a token the loss sees (all masked, truncated or weight 0). "
            "Use the job's validation data, or rows with an assistant answer."
        )
    sums: list[float] = []
    # Under the model's lock, as a generation: serving uses the same weights (and the same adapter choice).
    with loaded.using(adapter) as model, torch.no_grad():
        objective = SFTObjective(loaded.tokenizer.pad_token_id, model.device)
        for i in range(0, len(examples), batch_size):
            per_example, _ = objective.sequence_losses(model, examples[i : i + batch_size])
            sums.extend(float(x) for x in per_example.tolist())
    return HeldoutLoss(
        example_sums=sums,
        example_tokens=[ex.n_loss_tokens for ex in examples],
        n_dropped=dropped,
        vocab_size=len(loaded.tokenizer),
    )


def heldout_loss(
    model_dir: Path,
    data: Path,
    *,
    adapter_dir: Path | None = None,
    device: str = "cpu",
    train_on_inputs: bool | Literal["auto"] = "auto",
    max_seq_length: int | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    batch_size: int = 4,
) -> HeldoutLoss:
    """Held-out loss of ``model_dir`` (with ``adapter_dir``, a PEFT adapter, on top) on the rows of ``data``.

    Loads the model as serving does (``LoadedModel``: contained directories, no remote code), then
    ``loss_of_loaded``. Raises ``EngineError`` when no row has a loss token.

    >>> base = heldout_loss(Path("base"), Path("val.jsonl"))                                  # doctest: +SKIP
    >>> tuned = heldout_loss(Path("base"), Path("val.jsonl"), adapter_dir=Path("adapter"))   # doctest: +SKIP
    >>> compare(base, tuned).difference < 0   # the fine-tune fits the file better            # doctest: +SKIP
    """
    spec = (
        LoadSpec(path=str(adapter_dir), base_path=str(model_dir), device=device)
        if adapter_dir is not None
        else LoadSpec(path=str(model_dir), device=device)
    )
    return loss_of_loaded(
        LoadedModel(spec),
        data,
        train_on_inputs=train_on_inputs,
        max_seq_length=max_seq_length,
        max_examples=max_examples,
        batch_size=batch_size,
    )


class LossParameters(Parameters):
    """The ``parameters`` of a ``"loss"`` evaluation (this module's docstring)."""

    model_a: str = Field(min_length=1, max_length=1000, description="The baseline (A).")
    model_b: str = Field(min_length=1, max_length=1000, description="The fine-tune (B).")
    forgetting: bool = True
    max_examples: int = Field(DEFAULT_MAX_EXAMPLES, ge=1, le=10_000)
    max_seq_length: int | None = Field(None, ge=2)
    train_on_inputs: bool | Literal["auto"] = "auto"

    def served_models(self) -> list[str]:
        return [self.model_a, self.model_b]


class Served(Protocol):
    """A served name resolved (the runtime's ``Target``): the loaded model and the adapter to use on it."""

    model: LoadedModel
    adapter: str | None


def run_loss(parameters: LossParameters, data: Path, resolve: Callable[[str], Served]) -> dict[str, Any]:
    """A ``"loss"`` evaluation: both models on ``data`` (the input file) and, with ``forgetting``, on the
    general-text sample (whole rows trained: it is text); the evaluation's ``results``. ``resolve`` is the
    engine's model resolution (``DeployRuntime.resolve``)."""
    a, b = resolve(parameters.model_a), resolve(parameters.model_b)
    options: dict[str, Any] = {
        "max_seq_length": parameters.max_seq_length,
        "max_examples": parameters.max_examples,
    }

    def on(served: Served, path: Path, **more: Any) -> HeldoutLoss:
        return loss_of_loaded(served.model, path, adapter=served.adapter, **options, **more)

    tio = parameters.train_on_inputs
    task = (on(a, data, train_on_inputs=tio), on(b, data, train_on_inputs=tio))
    forgetting = (on(a, general_text()), on(b, general_text())) if parameters.forgetting else None
    return loss_results(*task, forgetting=forgetting)
