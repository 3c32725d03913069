"""Prompt templates (user-invoked, e.g. slash commands). Templates only, no logic."""

from byom.prompts.templates import finetune_my_model

__all__ = ["finetune_my_model"]
