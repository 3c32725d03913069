"""Held-out loss (``byom.engine.evals.loss``) on the tiny model: training's own figure, a fine-tune that fits its
data better than its base, the forgetting sample, and the noise arithmetic."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from byom.engine.deploy.host import LoadedModel, LoadSpec
from byom.engine.evals.loss import (
    HeldoutLoss,
    LossParameters,
    compare,
    general_text,
    heldout_loss,
    loss_of_loaded,
    run_loss,
)
from byom.engine.tiny import write_overfit_dataset
from byom.errors import EngineError
from support.trainer import make_spec, run_trainer


@dataclass
class Resolved:
    """A served name resolved, as the runtime's ``Target`` carries it (here: no attached adapter)."""

    model: LoadedModel
    adapter: str | None = None


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> dict[str, Any]:
    """A LoRA job trained a few epochs on a small Q&A set, evaluating on that set at its last step."""
    data = write_overfit_dataset(tmp_path_factory.mktemp("qa") / "qa.jsonl", n=16)
    spec = make_spec(
        tmp_path_factory.mktemp("jobs") / "ft-loss", tiny_model, data, n_evals=1, validation_file=data
    )
    rc, lines, out = run_trainer(spec)
    assert rc == 0, out
    evals = [
        ln["values"]["eval/loss"] for ln in lines if ln["kind"] == "metric" and "eval/loss" in ln["values"]
    ]
    return {
        "data": data,
        "adapter": spec.job_dir / "output" / "adapter",
        "eval_loss": evals[-1],
        "spec": spec,
    }


@pytest.mark.slow
def test_a_fine_tune_has_a_lower_heldout_loss_than_its_base_on_its_data(
    trained: dict[str, Any], tiny_model: Path
) -> None:
    base = heldout_loss(tiny_model, trained["data"])
    tuned = heldout_loss(tiny_model, trained["data"], adapter_dir=trained["adapter"])
    diff = compare(base, tuned)
    assert tuned.summary.n_examples == base.summary.n_examples == 16
    assert tuned.summary.tokens == base.summary.tokens > 0
    assert diff.difference < 0
    assert diff.std_error is not None and -diff.difference > 2 * diff.std_error  # larger than its noise
    assert tuned.summary.perplexity == pytest.approx(math.exp(tuned.loss))


@pytest.mark.slow
def test_the_loss_is_trainings_eval_loss_on_the_same_file(trained: dict[str, Any], tiny_model: Path) -> None:
    """Same rows, same masking, same weights: the figure training reported for the final model."""
    spec = trained["spec"]
    tuned = heldout_loss(
        tiny_model,
        trained["data"],
        adapter_dir=trained["adapter"],
        max_seq_length=spec.max_seq_length,
        train_on_inputs=spec.train_on_inputs,
        batch_size=spec.batch_size,
    )
    assert tuned.loss == pytest.approx(trained["eval_loss"], rel=1e-4)


@pytest.mark.slow
def test_the_loss_evaluation_scores_both_models_on_the_file_and_on_general_text(
    trained: dict[str, Any], tiny_model: Path
) -> None:
    """``run_loss`` as the engine's runner calls it: names resolved to loaded models, the results' shape."""
    specs = {
        "base": LoadSpec(path=str(tiny_model)),
        "tuned": LoadSpec(path=str(trained["adapter"]), base_path=str(tiny_model)),
    }
    params = LossParameters(input_data_file_path="file-1", model_a="base", model_b="tuned")
    results = run_loss(params, trained["data"], lambda name: Resolved(LoadedModel(specs[name])))
    assert results["task"]["difference"]["difference"] < 0
    forgetting = results["forgetting"]
    assert forgetting["model_a"]["n_examples"] == forgetting["model_b"]["n_examples"] == 40
    assert forgetting["difference"]["difference"] == pytest.approx(
        forgetting["model_b"]["loss"] - forgetting["model_a"]["loss"]
    )


def test_the_general_text_sample_is_forty_text_rows() -> None:
    rows = [json.loads(line) for line in general_text().read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 40 and all(set(r) == {"text"} and len(r["text"]) > 100 for r in rows)


def test_an_untrained_models_perplexity_is_about_its_vocabulary_size(tiny_model: Path) -> None:
    """The tiny model is random weights: the summary carries the vocabulary, so the report can say so."""
    summary = heldout_loss(tiny_model, general_text(), max_examples=4).summary
    assert summary.vocab_size is not None and summary.vocab_size > 100
    assert summary.perplexity >= 0.8 * summary.vocab_size


def test_rows_with_nothing_to_learn_are_refused(tiny_model: Path, tmp_path: Path) -> None:
    data = tmp_path / "empty.jsonl"
    row = {
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x", "weight": 0}]
    }
    data.write_text(json.dumps(row) + "\n")
    with pytest.raises(EngineError, match="No row of empty.jsonl has a token the loss sees"):
        heldout_loss(tiny_model, data)


def test_noise_is_the_paired_standard_error() -> None:
    a = HeldoutLoss(example_sums=[4.0, 6.0, 5.0], example_tokens=[2, 2, 2])
    b = HeldoutLoss(example_sums=[2.0, 4.0, 4.0], example_tokens=[2, 2, 2])
    diff = compare(a, b)
    assert diff.difference == pytest.approx(b.loss - a.loss) == pytest.approx(-5 / 6)
    # per-example differences -2, -2, -1 → mean -5/3 per example of 2 tokens; sd 0.577; se = 0.577/√3/2
    assert diff.std_error == pytest.approx(math.sqrt(1 / 3) / math.sqrt(3) / 2)
    assert HeldoutLoss(example_sums=[1.0], example_tokens=[3]).summary.std_error is None


def test_models_that_scored_different_tokens_are_not_compared() -> None:
    a = HeldoutLoss(example_sums=[1.0], example_tokens=[3])
    b = HeldoutLoss(example_sums=[1.0], example_tokens=[4])
    with pytest.raises(EngineError, match="different tokens"):
        compare(a, b)


@pytest.mark.slow
def test_an_attached_adapter_is_scored_as_the_served_model_answers(
    trained: dict[str, Any], tiny_model: Path
) -> None:
    """On a base with an attached adapter (a deployment's), the adapter counts only when named: as generation."""
    loaded = LoadedModel(LoadSpec(path=str(tiny_model)))
    loaded.load_adapter("tuned", str(trained["adapter"]))
    with_adapter = loss_of_loaded(loaded, trained["data"], adapter="tuned")
    base_alone = loss_of_loaded(loaded, trained["data"])
    assert with_adapter.loss == pytest.approx(
        heldout_loss(tiny_model, trained["data"], adapter_dir=trained["adapter"]).loss, rel=1e-5
    )
    assert base_alone.loss == pytest.approx(heldout_loss(tiny_model, trained["data"]).loss, rel=1e-5)
