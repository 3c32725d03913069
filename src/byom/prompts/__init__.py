"""Prompt templates (user-invoked, e.g. slash commands). Templates only, no logic."""

from byom.prompts.templates import finetune_my_model, why_did_my_job_fail

__all__ = ["finetune_my_model", "why_did_my_job_fail"]
