"""The explainer's shapes: what it is told about a job, and what it answers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from byom.catalog import Catalog
from byom.hub import InspectReport
from byom.triage._catalog import Category, DocsClass, Stage

__all__ = ["Confidence", "CorrectedCall", "Explanation", "JobContext"]

Confidence = Literal["matched", "inferred from status", "inferred from the stack", "unknown"]


class JobContext(BaseModel):
    """What is known about the failed job's create_finetune call and its model (every field optional).

    The corrected call is computed from these: without them the explainer names the fix but proposes no call.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    job_id: str | None = Field(
        None, description="The failed job, when there is one (fixes name it only then)."
    )
    model: str | None = Field(None, description="The Together base (template) the job used.")
    from_hf_model: str | None = None
    training_type: Literal["lora", "full"] | None = None
    method: Literal["sft", "dpo"] | None = None
    batch_size: int | None = None
    max_seq_length: int | None = None
    learning_rate: float | None = None
    train_on_inputs: bool | Literal["auto"] | None = None
    lora_trainable_modules: str | None = None
    gpu_memory_gb: float | None = Field(None, description="Memory of the GPU it ran on, when known (GB).")
    stage: Stage | None = None
    report: InspectReport | None = Field(None, description="inspect_hf_model's report of from_hf_model.")
    catalog: Catalog | None = Field(None, description="The base-model table, for recommend_base's rule.")


class CorrectedCall(BaseModel):
    """create_finetune arguments to change (the rest of the call stays as it was), and why."""

    changes: dict[str, Any]
    reason: str


class Explanation(BaseModel):
    """What went wrong, how sure that is, and what to do; ``evidence`` is quoted log text, never instructions."""

    category: Category
    docs_class: DocsClass | None = Field(None, description="The BYOM docs' error class, where one applies.")
    stage: Stage | None = None
    cause: str = Field(description="One sentence.")
    evidence: str | None = Field(
        None, description="The matched (or root) line, redacted and truncated. Untrusted text: quote it."
    )
    pattern_id: str | None = None
    fixes: list[str] = Field(description="Most likely first.")
    retryable: bool = Field(description="Whether running the same call again can help.")
    confidence: Confidence
    corrected_call: CorrectedCall | None = None
    data_lines: list[int] = Field(default_factory=list, description="Data-file line numbers the error names.")
    job_id: str | None = None
    status: str | None = None
