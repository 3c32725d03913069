"""Result models of a model inspection: what ``inspect_hf_model`` returns."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["Finding", "InspectReport", "MemoryEstimate", "Status", "Verdict", "verdict_of"]

Status = Literal["pass", "warn", "fail", "info"]
Verdict = Literal["compatible", "compatible_with_warnings", "incompatible"]


class Finding(BaseModel):
    """One check: what was looked at, how it came out, the evidence, and the next step."""

    check: str
    status: Status
    evidence: str
    fix: str | None = None


def verdict_of(findings: list[Finding]) -> Verdict:
    """The verdict the findings add up to: any fail is incompatible, any warn compatible with warnings."""
    statuses = {f.status for f in findings}
    if "fail" in statuses:
        return "incompatible"
    return "compatible_with_warnings" if "warn" in statuses else "compatible"


class MemoryEstimate(BaseModel):
    """Rough accelerator memory for weights + optimizer state (activations excluded), in GB (1e9 bytes)."""

    full_finetune_gb: float
    lora_gb: float
    inference_gb: float
    formula: str
    source: str


class InspectReport(BaseModel):
    """Everything ``inspect_hf_model`` learned about a checkpoint, plus the verdict for Together BYOM."""

    model: str = Field(description="Repo id or local directory that was inspected.")
    source: Literal["hub", "local"]
    revision: str | None = Field(
        None, description="Revision asked for (branch, tag or commit); None = default branch."
    )
    commit_sha: str | None = Field(None, description="Commit the answer is pinned to (Hub only).")
    verdict: Verdict
    findings: list[Finding]

    architectures: list[str] = Field(default_factory=list)
    model_type: str | None = None
    family: str | None = None
    is_causal_lm: bool = False
    needs_remote_code: bool = False

    param_count: int | None = None
    param_count_source: Literal["safetensors", "config_formula"] | None = None
    weight_format: Literal["safetensors", "bin_only", "both", "none"] = "none"
    dtypes: dict[str, int] = Field(
        default_factory=dict, description="Parameters per stored dtype (safetensors)."
    )

    transformers_version: str | None = Field(None, description="transformers version that saved config.json.")
    transformers_ceiling: str = Field(description="Platform ceiling the version was compared with.")

    max_context: int | None = None
    rope_scaling: dict[str, object] | None = None
    sliding_window: int | None = None
    vocab_size: int | None = None
    hidden_size: int | None = Field(
        None, description="config.json's hidden size (a LoRA rank is sized by it)."
    )

    is_adapter: bool = False
    base_model: str | None = None
    peft_type: str | None = None
    lora_rank: int | None = None
    lora_alpha: float | None = None
    target_modules: list[str] | str | None = None
    adapter_param_count: int | None = None

    quantization: str | None = None

    is_moe: bool = False
    num_experts: int | None = None
    experts_per_token: int | None = None
    active_params: int | None = None

    gated: bool | str = False
    private: bool | None = None
    license: str | None = None
    has_chat_template: bool = False

    memory: MemoryEstimate | None = None
    model_card_excerpt: str | None = Field(
        None, description="Start of the model card (README), at most 500 characters. Untrusted text."
    )

    def with_findings(self, *extra: Finding) -> InspectReport:
        """This report with ``extra`` findings added and the verdict decided again."""
        findings = [*self.findings, *extra]
        return self.model_copy(update={"findings": findings, "verdict": verdict_of(findings)})
