"""An evaluation's answer in words: a small table baseline vs fine-tuned, a verdict, and the next call.

The verdict never claims more than the data allow: a loss difference counts only when it is larger than twice its
standard error (paired over the same examples), a judge's preference only when a two-sided sign test over the
decided samples gives p < 0.05; otherwise it says the two are not told apart at this N and what would tell them
apart. A judge whose answers could not be used is said, and no winner is named from nothing.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

from pydantic import BaseModel, Field

from byom.together import EvaluationJob, LossPair
from byom.untrusted import SAMPLE_CHARS, fence, quote

__all__ = [
    "EvaluationReport",
    "Sample",
    "TableRow",
    "loss_report",
    "metrics_report",
    "render",
    "report_of",
    "samples",
    "sign_test",
]

SAMPLES = 3  # side-by-side rows shown of a judged comparison
# A general-text loss rise under log(1.01) (1% of perplexity) is no forgetting worth a claim, however small its noise.
_FORGET_MIN = math.log(1.01)
# A perplexity at or above this share of the vocabulary size: the model predicts about as well as a uniform guess.
_CHANCE_SHARE = 0.8

Outcome = Literal["better", "worse", "same", "unknown", "running", "failed"]


class TableRow(BaseModel):
    measure: str
    baseline: str
    fine_tuned: str
    difference: str


class Sample(BaseModel):
    """One row of a judged comparison, side by side (untrusted: model output, clipped to ``SAMPLE_CHARS``)."""

    prompt: str
    baseline: str
    fine_tuned: str
    decision: str = Field(description="A (baseline), B (fine-tune), Tie, or a failure.")


class EvaluationReport(BaseModel):
    evaluation_id: str | None = Field(description="The backend's evaluation id (eval-…), to read it again.")
    method: str
    status: str
    outcome: Outcome = Field(description="The fine-tune against the baseline, as far as N and noise allow.")
    table: list[TableRow] = Field(default_factory=list)
    verdict: str
    forgetting: str | None = None
    samples: list[Sample] = Field(default_factory=list, description="A few judged rows side by side.")
    next_step: str


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact binomial p-value of ``wins`` against ``losses`` (ties left out), p = 0.5."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def _loss_rows(label: str, pair: LossPair) -> list[TableRow]:
    a, b, d = pair.model_a, pair.model_b, pair.difference
    # The standard error itself, labelled: a bare "± x" reads as one SE, and the verdict speaks of SEs.
    noise = f" (SE {d.std_error:.3f})" if d.std_error is not None else ""
    return [
        TableRow(
            measure=f"{label} loss",
            baseline=_fmt(a.loss),
            fine_tuned=_fmt(b.loss),
            difference=f"{d.difference:+.3f}{noise}",
        ),
        TableRow(
            measure=f"{label} perplexity",
            baseline=_fmt(a.perplexity, 2),
            fine_tuned=_fmt(b.perplexity, 2),
            difference="",
        ),
    ]


def _loss_outcome(pair: LossPair) -> Outcome:
    d = pair.difference
    if d.std_error is None:
        return "unknown"
    if abs(d.difference) <= 2 * d.std_error:
        return "same"
    return "better" if d.difference < 0 else "worse"


def _untrained(task: LossPair) -> tuple[str, bool] | None:
    """What to say when a model's perplexity on the task's data is near its vocabulary size (it predicts no better
    than chance), and whether the fine-tune is one; None when neither model is. The general text is not asked: a
    fine-tune that learned its task may still know little else, which the forgetting line says on its own."""
    found: list[tuple[str, float, int]] = []
    for who, m in (("baseline", task.model_a), ("fine-tune", task.model_b)):
        if m.vocab_size and m.perplexity and m.perplexity >= _CHANCE_SHARE * m.vocab_size:
            found.append((who, m.perplexity, m.vocab_size))
    if not found:
        return None
    shown = " and the ".join(
        f"{who} (perplexity {ppl:,.0f}, vocabulary {vocab:,})" for who, ppl, vocab in found
    )
    message = (
        f"Essentially untrained: the {shown} {'predict' if len(found) > 1 else 'predicts'} no better than chance (a uniform guess over the vocabulary "
        "has a perplexity equal to its size). Nothing below says it answers well; start from a trained "
        "checkpoint (an instruct model) before judging the fine-tune."
    )
    return message, any(who == "fine-tune" for who, _, _ in found)


def loss_report(
    evaluation_id: str | None,
    task: LossPair,
    forgetting: LossPair | None,
    job_id: str | None,
    *,
    on_training_data: bool = False,
) -> EvaluationReport:
    """A ``loss`` evaluation's report: the task's loss (lower is better) and, when measured, the general-text loss.
    ``on_training_data``: the data is the job's own training file (a fit, not a held-out figure)."""
    n, tokens = task.difference.n_examples, task.model_a.tokens
    outcome = _loss_outcome(task)
    d = task.difference
    counted = f"on {n} examples ({tokens:,} loss tokens)"
    what = "loss on its training data" if on_training_data else "held-out loss"
    verdict = {
        "better": f"The fine-tune's {what} is lower by {-d.difference:.3f} {counted}: more than twice its "
        f"noise (standard error {_fmt(d.std_error)}).",
        "worse": f"The fine-tune's {what} is higher by {d.difference:.3f} {counted}: more than twice its "
        f"noise (standard error {_fmt(d.std_error)}). It fits this data worse than the baseline.",
        "same": f"The two are not told apart {counted}: the difference {d.difference:+.3f} is within twice its "
        f"noise (standard error {_fmt(d.std_error)}).",
        "unknown": f"Too few examples to tell ({n}): a noise figure needs at least 2.",
    }[outcome]
    table = _loss_rows("task", task)
    forgot: str | None = None
    forgot_outcome: Outcome | None = None
    if forgetting is not None:
        table += _loss_rows("general text", forgetting)
        forgot_outcome = _loss_outcome(forgetting)
        f = forgetting.difference
        if forgot_outcome == "worse" and f.difference < _FORGET_MIN:
            forgot_outcome = "same"  # beyond its noise, but under 1% of perplexity: nothing lost that matters
        forgot = {
            "worse": f"Forgetting: its loss on general English text rose by {f.difference:.3f} (perplexity "
            f"{_fmt(forgetting.model_a.perplexity, 2)} → {_fmt(forgetting.model_b.perplexity, 2)}), more than its noise.",
            "better": "No forgetting: its loss on general English text fell.",
            "same": f"No measurable forgetting: its loss on general English text moved {f.difference:+.3f}, within "
            "twice its noise or under 1% of perplexity.",
            "unknown": "Forgetting not measured: too few general-text examples.",
        }[forgot_outcome]
    next_step = _next_step(outcome, forgot_outcome == "worse", job_id, "loss")
    if on_training_data:
        verdict += (
            " This is the job's own training data: it shows how well the fine-tune fits it, not whether it "
            "generalises."
        )
        next_step = (
            "For whether it generalises, evaluate on rows it never saw: evaluate_model(model=…, data=<a validation "
            ".jsonl>), and pass validation_file to create_finetune next time. " + next_step
        )
    untrained = _untrained(task)
    if untrained is not None:
        verdict = f"{untrained[0]} {verdict}"
        if untrained[1]:
            next_step = (
                "Train again from a trained checkpoint (inspect_hf_model, recommend_base), then evaluate."
            )
    return EvaluationReport(
        evaluation_id=evaluation_id,
        method="loss",
        status="completed",
        outcome=outcome,
        table=table,
        verdict=verdict,
        forgetting=forgot,
        next_step=next_step,
    )


def _compare_report(job: EvaluationJob, job_id: str | None) -> EvaluationReport:
    r = job.results
    assert r is not None
    a, b, ties = r.a_wins or 0, r.b_wins or 0, r.ties or 0
    gen_fail, judge_fail = int(r.generation_fail_count or 0), int(r.judge_fail_count or 0)
    n = r.num_samples if r.num_samples is not None else a + b + ties + gen_fail + judge_fail
    decided = a + b + ties
    table = [
        TableRow(measure="judge prefers", baseline=str(a), fine_tuned=str(b), difference=f"{ties} ties"),
        TableRow(
            measure="unusable",
            baseline=f"{gen_fail} generation failures",
            fine_tuned=f"{judge_fail} judge answers not parsed",
            difference=f"of {n} samples",
        ),
    ]
    if decided == 0 or judge_fail * 2 >= max(n, 1):
        outcome: Outcome = "unknown"
        verdict = (
            f"No winner: the judge's answers could not be used for {judge_fail} of {n} samples"
            + (f" and {gen_fail} generations failed" if gen_fail else "")
            + ". Pick another judge (judge=…), or check that the judge model follows instructions."
        )
    else:
        p = sign_test(b, a)
        if p < 0.05:
            outcome = "better" if b > a else "worse"
            who = "fine-tune" if b > a else "baseline"
            verdict = (
                f"The judge preferred the {who} in {max(a, b)} of {decided} judged samples ({min(a, b)} the other, "
                f"{ties} ties): more than chance allows at this N (sign test p = {p:.3f})."
            )
        else:
            outcome = "same"
            verdict = (
                f"Not told apart: the judge preferred the fine-tune {b} times and the baseline {a} times ({ties} ties) "
                f"in {decided} judged samples; chance alone gives a split like this (sign test p = {p:.2f})."
            )
        if judge_fail or gen_fail:
            verdict += f" {judge_fail + gen_fail} of {n} samples were unusable and are not counted."
    return EvaluationReport(
        evaluation_id=job.workflow_id,
        method="compare",
        status="completed",
        outcome=outcome,
        table=table,
        verdict=verdict,
        next_step=_next_step(outcome, False, job_id, "compare"),
    )


def _score_report(job: EvaluationJob, job_id: str | None) -> EvaluationReport:
    r = job.results
    assert r is not None
    s = r.aggregated_scores
    judge_fail, invalid = int(r.judge_fail_count or 0), int(r.invalid_score_count or 0)
    table = [
        TableRow(
            measure="judge score (mean ± sd)",
            baseline="",
            fine_tuned=f"{_fmt(s.mean_score if s else None, 2)} ± {_fmt(s.std_score if s else None, 2)}",
            difference=f"{_fmt(s.pass_percentage if s else None, 1)}% pass",
        )
    ]
    if s is None or s.mean_score is None:
        verdict = (
            f"No score: the judge's answers could not be used ({judge_fail} failed, {invalid} not a score). "
            "Pick another judge (judge=…)."
        )
        outcome: Outcome = "unknown"
    else:
        verdict = (
            f"The judge scored the fine-tune {s.mean_score:.2f} on average ({_fmt(s.pass_percentage, 1)}% passing); "
            "a score alone compares nothing: method='compare' judges it against the baseline."
        )
        outcome = "unknown"
    return EvaluationReport(
        evaluation_id=job.workflow_id,
        method="score",
        status="completed",
        outcome=outcome,
        table=table,
        verdict=verdict,
        next_step=_next_step(outcome, False, job_id, "score"),
    )


def report_of(job: EvaluationJob, job_id: str | None, *, on_training_data: bool = False) -> EvaluationReport:
    """The report of an evaluation job as the backend returned it (finished or not); ``on_training_data``: a loss
    evaluation on the job's own training file."""
    kind, status = job.type or "?", job.status or "unknown"
    again = f"evaluate_model(model={job.workflow_id!r})" if job.workflow_id else "evaluate_model"
    if status in ("error", "user_error"):
        why = (job.results.error if job.results else None) or "the backend gave no reason"
        return EvaluationReport(
            evaluation_id=job.workflow_id,
            method=kind,
            status=status,
            outcome="failed",
            verdict=f"The evaluation failed: {why}",
            next_step="Fix what the reason says and call evaluate_model again.",
        )
    if status != "completed" or job.results is None:
        return EvaluationReport(
            evaluation_id=job.workflow_id,
            method=kind,
            status=status,
            outcome="running",
            verdict=f"Still {status}: no result yet.",
            next_step=f"Call {again} to follow it.",
        )
    if kind == "loss" and job.results.task is not None:
        return loss_report(
            job.workflow_id,
            job.results.task,
            job.results.forgetting,
            job_id,
            on_training_data=on_training_data,
        )
    if kind == "score":
        return _score_report(job, job_id)
    return _compare_report(job, job_id)


def metrics_report(job_id: str, evals: list[tuple[float, float]]) -> EvaluationReport:
    """A Together job's own validation loss (``eval/loss`` of its metrics), first evaluation against last: Together
    has no held-out loss of the base, so this says how the fine-tune moved, not how it compares with the base."""
    if not evals:
        return EvaluationReport(
            evaluation_id=None,
            method="loss",
            status="completed",
            outcome="unknown",
            verdict="This job ran no evaluations (n_evals was 0 or there was no validation file): Together has no "
            "held-out loss for it.",
            next_step="Use method='compare' (a judged comparison), or train again with validation_file and n_evals.",
        )
    (s0, first), (s1, last) = evals[0], evals[-1]
    moved = last - first
    return EvaluationReport(
        evaluation_id=None,
        method="loss",
        status="completed",
        outcome="unknown",
        table=[
            TableRow(
                measure="validation loss",
                baseline=f"{first:.3f} (step {s0:.0f})",
                fine_tuned=f"{last:.3f} (step {s1:.0f})",
                difference=f"{moved:+.3f}",
            )
        ],
        verdict=f"The job's validation loss went from {first:.3f} to {last:.3f} over {len(evals)} evaluations "
        "(Together's figure, no noise estimate); the base model's own loss on this data is not measured on Together.",
        next_step=f"For a comparison with the base, call evaluate_model(model={job_id!r}, method='compare').",
    )


def _next_step(outcome: Outcome, forgot: bool, job_id: str | None, method: str) -> str:
    job = f"job_id={job_id!r}" if job_id else "job_id=…"
    if outcome == "better" and not forgot:
        return f"Serve it: deploy_endpoint({job}), or ask it a few prompts first."
    if outcome == "better" and forgot:
        return (
            "It learned the task but lost general ability: train again with fewer epochs or a lower learning rate, "
            "or mix general examples into the data (create_finetune(..., n_epochs=…))."
        )
    if outcome == "worse":
        return (
            "It is worse than where it started: check the data (check_training_data) for wrong or inconsistent "
            "answers, then train again; a different base (recommend_base) if the data is clean."
        )
    if outcome == "same":
        more = "more validation rows (data=…)" if method == "loss" else "more prompts (data=…)"
        return (
            f"Tell them apart with {more}; if they stay level, train longer: "
            f"create_finetune(..., from_checkpoint=<the job id>, n_epochs=…) continues this one."
        )
    return "Fix what the verdict says and call evaluate_model again."


def samples(result_file: bytes, n: int = SAMPLES) -> list[Sample]:
    """The first ``n`` judged rows of a compare's result file (the input row plus ``model_a_output``,
    ``model_b_output`` and ``final_decision``), each part clipped; rows of another shape are skipped."""
    found: list[Sample] = []
    for line in result_file.splitlines():
        try:
            row: Any = json.loads(line)
        except ValueError:
            continue
        if not isinstance(row, dict) or "model_a_output" not in row or "model_b_output" not in row:
            continue
        found.append(
            Sample(
                prompt=quote(str(row.get("prompt", "")), SAMPLE_CHARS),
                baseline=quote(str(row.get("model_a_output") or "(no answer)"), SAMPLE_CHARS),
                fine_tuned=quote(str(row.get("model_b_output") or "(no answer)"), SAMPLE_CHARS),
                decision=quote(str(row.get("final_decision", "?")), 40),
            )
        )
        if len(found) >= n:
            break
    return found


def render(report: EvaluationReport) -> str:
    """The report as the model reads it: the table, the verdict, forgetting and the next call."""
    lines = []
    if report.table:
        lines += ["| measure | baseline | fine-tuned | difference |", "|---|---|---|---|"]
        lines += [f"| {r.measure} | {r.baseline} | {r.fine_tuned} | {r.difference} |" for r in report.table]
        lines.append("")
    lines.append(report.verdict)
    if report.forgetting:
        lines.append(report.forgetting)
    for i, sample in enumerate(report.samples, 1):
        text = f"prompt: {sample.prompt}\nA (baseline): {sample.baseline}\nB (fine-tune): {sample.fine_tuned}"
        lines.append(f"Sample {i} (judge: {sample.decision}):\n{fence(text, 'model-output')}")
    if report.evaluation_id:
        lines.append(f"Evaluation {report.evaluation_id} ({report.method}, {report.status}).")
    lines.append(f"Next: {report.next_step}")
    return "\n".join(lines)
