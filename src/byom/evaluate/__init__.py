"""Did the fine-tune get better? ``evaluate_model``'s workflow: the plan (``plan``), running it (``run``) and the
answer in words (``report``): held-out loss and forgetting on the local engine, a judged comparison or score
through the Evaluations API (Together's, or the engine's)."""

from byom.evaluate.plan import Contestant, EvaluateArgs, EvaluatePlan, plan_evaluate
from byom.evaluate.report import EvaluationReport, TableRow, render, report_of
from byom.evaluate.run import run_evaluation

__all__ = [
    "Contestant",
    "EvaluateArgs",
    "EvaluatePlan",
    "EvaluationReport",
    "TableRow",
    "plan_evaluate",
    "render",
    "report_of",
    "run_evaluation",
]
