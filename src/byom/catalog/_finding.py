"""What ``inspect_hf_model`` says about the Together template: ``recommend_base``'s own answer, as one finding.

    InspectReport ──recommend_for_report()──► Recommendation ──template_finding()──► Finding "together_base"
        direct (the model is a Together base)      pass: fine-tune it directly, with the call
        the local engine trains the model itself   pass: its own template, Together's rule does not apply
        no base of the family or a close one       warn: BYOM has no template for it
        the pick breaks a clause of the rule       warn: which clause, and where the risks are told
        the pick follows the rule                  pass: the base and the call

One recommendation feeds both tools, so a model is never plain COMPATIBLE while its template breaks the rule.
"""

from __future__ import annotations

from byom.catalog._models import Catalog
from byom.catalog._select import Recommendation, recommend_for_report
from byom.hub import Finding, InspectReport

__all__ = ["template_finding", "with_template_finding"]

CHECK = "together_base"


def template_finding(rec: Recommendation) -> Finding | None:
    """The finding for ``rec``; ``None`` when the architecture is unknown (the
    inspection's own findings say so)."""
    if rec.family is None:
        return None
    if rec.direct:
        return Finding(
            check=CHECK,
            status="pass",
            evidence=f"{rec.base_model} is itself a Together fine-tuning base: fine-tune it directly, no BYOM "
            f"needed: {rec.next_step}",
        )
    if rec.backend == "local":
        return Finding(check=CHECK, status="pass", evidence=f"{rec.explanation} Next: {rec.next_step}")
    if rec.pick is None:
        return Finding(
            check=CHECK,
            status="warn",
            evidence=f"Together has no base of the {rec.family} family or a close one: BYOM has no template "
            "for this model",
            fix="Pick a model of a family Together fine-tunes (recommend_base lists them), or ask Together "
            "support to add the architecture; the local engine can still train it.",
        )
    if rec.rule_breaks:
        return Finding(
            check=CHECK,
            status="warn",
            evidence=f"recommend_base's template, {rec.base_model}, breaks the BYOM rule: "
            + "; ".join(rec.rule_breaks),
            fix="Read recommend_base's warnings (the risks, and what to set) before creating the job.",
        )
    return Finding(
        check=CHECK,
        status="pass",
        evidence=f"Together template {rec.base_model} follows the BYOM rule (same architecture, context within "
        f"yours, closest size): {rec.next_step}",
    )


def with_template_finding(
    report: InspectReport, catalog: Catalog, *, local_engine: bool = False
) -> InspectReport:
    """``report`` with the template finding added (its verdict decided again); a non-causal model unchanged.
    ``local_engine``: the advice recommend_base gives there (the engine trains the model itself)."""
    if not report.is_causal_lm:
        return report
    finding = template_finding(recommend_for_report(report, catalog, local_engine=local_engine))
    return report.with_findings(finding) if finding is not None else report
