"""Carry out a confirmed evaluation plan: upload its data, create the evaluation, wait a bounded while, report.

An evaluation outlives the call that starts it: when ``wait_seconds`` run out first, the report says it is still
running and how to read it (``evaluate_model(model="eval-…")``), never blocking the host.
"""

from __future__ import annotations

from typing import Any

from byom.backend import Backend
from byom.confirmed import Progress, outcome_unknown, poll_until
from byom.errors import TogetherAPIError
from byom.evaluate.plan import EvaluatePlan
from byom.evaluate.report import EvaluationReport, metrics_report, report_of, samples
from byom.jobs.files import upload
from byom.ledger import Ledger
from byom.together import EvaluationJob

__all__ = ["run_evaluation"]


async def run_evaluation(
    plan: EvaluatePlan,
    *,
    backend: Backend,
    ledger: Ledger,
    wait_seconds: float,
    progress: Progress | None = None,
) -> EvaluationReport:
    client = backend.client
    if plan.evaluation_id is None and not plan.request:
        assert plan.job_id is not None
        metrics = await client.finetune_metrics(plan.job_id)
        return metrics_report(plan.job_id, metrics.series("eval/loss"))
    if plan.evaluation_id is not None:
        evaluation_id = plan.evaluation_id
    else:
        assert plan.file is not None
        data = await upload(plan.file, backend, ledger, progress, "evaluation")
        assert data.file_id is not None
        parameters = {**plan.request["parameters"], "input_data_file_path": data.file_id}
        evaluation_id = await _create(plan, backend, ledger, parameters)

    def progress_line(job: EvaluationJob, tries: int) -> tuple[float, float | None, str]:
        return tries, None, f"evaluation {evaluation_id}: {job.status or 'pending'}"

    job = await poll_until(
        lambda: client.retrieve_evaluation(evaluation_id),
        lambda j: j.done,
        wait_seconds=wait_seconds,
        progress=progress,
        report=progress_line,
    )
    report = report_of(job, plan.job_id, on_training_data=plan.on_training_data)
    result_file = job.results.result_file_id if job.results is not None else None
    if report.method == "compare" and report.status == "completed" and result_file:
        try:
            report.samples = samples(await client.file_content(result_file))
        except TogetherAPIError:
            pass  # the counts stand without samples; the result file is the backend's to keep
    return report


async def _create(plan: EvaluatePlan, backend: Backend, ledger: Ledger, parameters: dict[str, Any]) -> str:
    """Create the evaluation; one that costs money is recorded in the ledger first, so the daily limit counts it
    (and is checked again, with what was confirmed since the plan was made)."""
    if not backend.costs_money:
        return (await backend.client.create_evaluation(plan.request["type"], parameters)).workflow_id
    row = ledger.claim(
        "evaluation",
        plan.fingerprint,
        plan.backend_url,
        plan.request,
        plan.usd or 0.0,
        force_new=True,
        limits=plan.limits,
    ).row_id
    try:
        created = await backend.client.create_evaluation(plan.request["type"], parameters)
    except TogetherAPIError as exc:
        (ledger.lost if outcome_unknown(exc) else ledger.fail)(row)
        raise
    ledger.finish(row, created.workflow_id)
    return created.workflow_id
