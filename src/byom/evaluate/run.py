"""Carry out a confirmed evaluation plan: upload its data, create the evaluation, wait a bounded while, report.

An evaluation outlives the call that starts it: when ``wait_seconds`` run out first, the report says it is still
running and how to read it (``evaluation_id``), never blocking the host.
"""

from __future__ import annotations

from byom.backend import Backend
from byom.confirmed import Progress, poll_until
from byom.evaluate.plan import EvaluatePlan
from byom.evaluate.report import EvaluationReport, metrics_report, report_of
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
        assert plan.data is not None
        data = await upload(plan.data, backend, ledger, progress, "evaluation")
        assert data.file_id is not None
        parameters = {**plan.request["parameters"], "input_data_file_path": data.file_id}
        created = await client.create_evaluation(plan.request["type"], parameters)
        evaluation_id = created.workflow_id

    def report(job: EvaluationJob, tick: int) -> tuple[float, float | None, str]:
        return tick, None, f"evaluation {evaluation_id}: {job.status or 'pending'}"

    job = await poll_until(
        lambda: client.retrieve_evaluation(evaluation_id),
        lambda j: j.done,
        wait_seconds=wait_seconds,
        progress=progress,
        report=report,
    )
    return report_of(job, plan.job_id)
