"""The prompts byom-mcp offers a host's user."""

from __future__ import annotations

__all__ = ["finetune_my_model"]


def finetune_my_model(model: str, goal: str = "") -> str:
    """Check a Hugging Face model for Together BYOM fine-tuning and choose its base template."""
    goal_line = f"\nWhat I want the fine-tuned model to do: {goal}" if goal else ""
    return (
        f"I want to fine-tune the Hugging Face model `{model}`.{goal_line}\n\n"
        "1. Call inspect_hf_model on it and tell me the verdict in one line, then each warning or failure "
        "with its fix.\n"
        "2. If it is not incompatible, call recommend_base and tell me which base template to use and why, "
        "and the runner-up.\n"
        "3. Tell me which training data format to prepare (conversation `messages`, `prompt`/`completion`, "
        "or `text`) and what the next step is."
    )
