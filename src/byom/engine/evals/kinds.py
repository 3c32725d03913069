"""Each evaluation type's run: one function per type, over the input rows, returning the type's results.

``KINDS`` is the one dispatch point: type → (its parameters model, its run function). A new type (byom's
held-out "loss") is one entry here with its own ``Parameters`` subclass; the routes and the runner need nothing
else. A run reads rows from ``ctx.rows()``, asks models through ``ctx.chat`` (the engine's own generation),
writes one result row per sample with ``ctx.write`` and calls ``ctx.step()`` after each (which stops a
cancelled run). Per-sample failures are counted — generation failures and the judge's unusable answers — so
the counts of a compare add up to ``num_samples``; a problem of the whole evaluation (a template naming a
missing column) is raised as ``InvalidRequest``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from byom.engine.deploy.generate import LOAD_WAIT_S, MAX_TOKENS_CAP
from byom.engine.deploy.host import SamplingParams
from byom.engine.deploy.runtime import DeployRuntime
from byom.engine.evals import judging, loss
from byom.engine.evals.bodies import (
    ClassifyParameters,
    CompareParameters,
    Judge,
    ModelOrColumn,
    ModelRequest,
    Parameters,
    ScoreParameters,
)
from byom.engine.evals.samples import as_text, column_answer, read_rows, render
from byom.errors import EngineError

__all__ = ["KINDS", "EvalContext", "Kind"]

# A judge's answer is a verdict and perhaps a few lines of reasons; Together's default (32768) is for
# reasoning judges of a hosted API, not a laptop.
JUDGE_MAX_TOKENS = 512

Chat = Callable[[str, list[dict[str, str]], SamplingParams], str]


@dataclass
class EvalContext:
    """What a run may use: its input, the engine's models, its result file and the step that counts a sample."""

    input_path: Path
    runtime: DeployRuntime  # the engine's models, for a type that needs more than a chat answer
    chat: Chat  # (served model name, messages, sampling) → the answer's text; raises EngineError
    write: Callable[[dict[str, Any]], None]
    step: Callable[[], None]

    def rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        return read_rows(self.input_path)


@dataclass(frozen=True)
class Kind:
    parameters: type[Parameters]
    run: Callable[[Any, EvalContext], dict[str, Any]]


def _messages(system: str, user: str) -> list[dict[str, str]]:
    head = [{"role": "system", "content": system}] if system.strip() else []
    return [*head, {"role": "user", "content": user}]


def _ask(
    ctx: EvalContext, model: str, messages: list[dict[str, str]], params: SamplingParams
) -> tuple[str | None, str]:
    """(answer, "") or (None, why it failed): a failed generation is counted, not fatal."""
    try:
        return ctx.chat(model, messages, params), ""
    except EngineError as exc:
        return None, exc.message


def _request(source: ModelOrColumn | None, row: dict[str, Any], lineno: int) -> str | None:
    """The request the judge is shown: what the model was asked, else the row's ``prompt`` column if any."""
    if isinstance(source, ModelRequest):
        return render(source.input_template, row, lineno, "input_template")
    return as_text(row["prompt"]) if "prompt" in row else None


def _answer(
    ctx: EvalContext, source: ModelOrColumn, row: dict[str, Any], lineno: int
) -> tuple[str | None, str]:
    """A model's answer to this row (generated, or read from its column); (None, why) when there is none."""
    if not isinstance(source, ModelRequest):
        text = column_answer(row, source, lineno)
        return (text, "") if text is not None else (None, f"column {source[:60]!r} is null on this line")
    messages = _messages(
        render(source.system_template, row, lineno, "system_template"),
        render(source.input_template, row, lineno, "input_template"),
    )
    params = SamplingParams(max_tokens=min(source.max_tokens, MAX_TOKENS_CAP), temperature=source.temperature)
    return _ask(ctx, source.model, messages, params)


def _judge(
    ctx: EvalContext, judge: Judge, row: dict[str, Any], lineno: int, question: str
) -> tuple[str | None, str]:
    params = SamplingParams(
        max_tokens=min(judge.max_tokens or JUDGE_MAX_TOKENS, MAX_TOKENS_CAP),
        temperature=judge.temperature or 0.0,
    )
    system = render(judge.system_template, row, lineno, "judge's system_template")
    return _ask(ctx, judge.model, _messages(system, question), params)


def run_compare(p: CompareParameters, ctx: EvalContext) -> dict[str, Any]:
    """Both answers of each row judged, in both orders unless ``disable_position_bias_correction``."""
    counts: Counter[str] = Counter()
    for lineno, row in ctx.rows():
        request = _request(p.model_a if isinstance(p.model_a, ModelRequest) else p.model_b, row, lineno)
        a, a_why = _answer(ctx, p.model_a, row, lineno)
        b, b_why = _answer(ctx, p.model_b, row, lineno)
        out: dict[str, Any] = {**row, "model_a_output": a, "model_b_output": b}
        if a is None or b is None:
            outcome = "generation_fail"
            out["error"] = f"model {'A' if a is None else 'B'}: {a_why or b_why}"
        else:
            said, why = _judge(ctx, p.judge, row, lineno, judging.compare_question(request, a, b))
            out["judge_feedback_original_order"] = said if said is not None else f"(judge failed: {why})"
            verdicts = [judging.verdict(said) if said is not None else None]
            if not p.disable_position_bias_correction:
                said, why = _judge(ctx, p.judge, row, lineno, judging.compare_question(request, b, a))
                out["judge_feedback_flipped_order"] = said if said is not None else f"(judge failed: {why})"
                verdicts.append(judging.swap(judging.verdict(said)) if said is not None else None)
            outcome = judging.reconcile(verdicts)
        out["final_decision"] = outcome
        counts[outcome] += 1
        ctx.write(out)
        ctx.step()
    return {
        "num_samples": sum(counts.values()),
        "A_wins": counts["A"],
        "B_wins": counts["B"],
        "Ties": counts["Tie"],
        "generation_fail_count": counts["generation_fail"],
        "judge_fail_count": counts["judge_fail"],
    }


def _judged_rows(
    p: ScoreParameters | ClassifyParameters,
    ctx: EvalContext,
    question: Callable[[str | None, str | None], str],
) -> Iterator[tuple[dict[str, Any], str | None, str]]:
    """(result row, the judge's answer, "") per row, or (row, None, "generation_fail" | "judge_fail") when the
    model or the judge gave no answer (the row's ``error`` says why)."""
    for lineno, row in ctx.rows():
        response: str | None = None
        out: dict[str, Any] = dict(row)
        if p.model_to_evaluate is not None:
            response, why = _answer(ctx, p.model_to_evaluate, row, lineno)
            out["model_output"] = response
            if response is None:
                out["error"] = f"generation: {why}"
                yield out, None, "generation_fail"
                continue
        request = _request(p.model_to_evaluate, row, lineno)
        said, why = _judge(ctx, p.judge, row, lineno, question(request, response))
        out["judge_feedback"] = said
        if said is None:
            out["error"] = f"judge: {why}"
            yield out, None, "judge_fail"
        else:
            yield out, said, ""


def run_score(p: ScoreParameters, ctx: EvalContext) -> dict[str, Any]:
    """A judge's score per row: mean, standard deviation and the share at or above ``pass_threshold``."""
    counts: Counter[str] = Counter()
    total = squares = 0.0

    def question(request: str | None, response: str | None) -> str:
        return judging.score_question(request, response, p.min_score, p.max_score)

    for out, said, failed in _judged_rows(p, ctx, question):
        score = judging.score_of(said) if said is not None else None
        if failed:
            counts[failed] += 1
        elif score is None:
            counts["judge_fail"] += 1
            out["error"] = "judge: no score on the answer's last line"
        elif not p.min_score <= score <= p.max_score:
            counts["invalid"] += 1
            out["error"] = f"judge: score {score:g} outside {p.min_score:g}..{p.max_score:g}"
        else:
            counts["scored"] += 1
            counts["passed"] += score >= p.pass_threshold
            total += score
            squares += score * score
        out["score"] = score
        ctx.write(out)
        ctx.step()
    n = counts["scored"]
    return {
        "aggregated_scores": {
            "mean_score": total / n if n else None,
            "std_score": math.sqrt(max(0.0, squares / n - (total / n) ** 2)) if n else None,
            "pass_percentage": 100.0 * counts["passed"] / n if n else None,
        },
        "generation_fail_count": counts["generation_fail"],
        "judge_fail_count": counts["judge_fail"],
        "invalid_score_count": counts["invalid"],
        "failed_samples": counts["generation_fail"] + counts["judge_fail"] + counts["invalid"],
    }


def run_classify(p: ClassifyParameters, ctx: EvalContext) -> dict[str, Any]:
    """A judge's label per row: counts per label and the share of ``pass_labels``."""
    counts: Counter[str] = Counter()
    labels: Counter[str] = Counter({label: 0 for label in p.labels})
    passing = {label.strip().casefold() for label in p.pass_labels}

    def question(request: str | None, response: str | None) -> str:
        return judging.classify_question(request, response, p.labels)

    for out, said, failed in _judged_rows(p, ctx, question):
        label = judging.label_of(said, p.labels) if said is not None else None
        if failed:
            counts[failed] += 1
        elif label is None:
            counts["invalid"] += 1
            out["error"] = "judge: the answer's last line is none of the labels"
        else:
            labels[label] += 1
            counts["passed"] += label.strip().casefold() in passing
        out["label"] = label
        ctx.write(out)
        ctx.step()
    labelled = sum(labels.values())
    return {
        "generation_fail_count": counts["generation_fail"],
        "judge_fail_count": counts["judge_fail"],
        "invalid_label_count": counts["invalid"],
        "pass_percentage": 100.0 * counts["passed"] / labelled if labelled else None,
        "label_counts": json.dumps(dict(labels)),
    }


def run_loss(p: loss.LossParameters, ctx: EvalContext) -> dict[str, Any]:
    """byom's ``"loss"``: held-out loss of both models (and forgetting), one step for the whole file."""
    results = loss.run_loss(p, ctx.input_path, lambda name: ctx.runtime.resolve(name, wait_s=LOAD_WAIT_S))
    ctx.step()
    return results


KINDS: dict[str, Kind] = {
    "classify": Kind(ClassifyParameters, run_classify),
    "score": Kind(ScoreParameters, run_score),
    "compare": Kind(CompareParameters, run_compare),
    "loss": Kind(loss.LossParameters, run_loss),
}
