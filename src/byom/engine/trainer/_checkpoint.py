"""Save and restore training checkpoints: weights as safetensors, loop state beside them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from byom.errors import TrainingError

__all__ = ["load_resume_state", "save_checkpoint", "save_weights"]

STATE_JSON = "trainer_state.json"
STATE_PT = "trainer_state.pt"  # our own file (optimizer + RNG), never a model weight


def save_weights(model: Any, tokenizer: Any, dest: Path) -> None:
    """Write the adapter (LoRA) or the full model as safetensors, plus the tokenizer."""
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest, safe_serialization=True)
    tokenizer.save_pretrained(dest)


def save_checkpoint(
    model: Any, tokenizer: Any, optimizer: Any, dest: Path, *, step: int, total_steps: int, tokens_seen: int
) -> None:
    """Write weights and everything a resume needs; atomically (tmp dir then rename)."""
    import torch

    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    save_weights(model, tokenizer, tmp)
    state = {
        "optimizer": optimizer.state_dict(),
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }
    torch.save(state, tmp / STATE_PT)
    (tmp / STATE_JSON).write_text(
        json.dumps({"step": step, "total_steps": total_steps, "tokens_seen": tokens_seen}), encoding="utf-8"
    )
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


def load_resume_state(model: Any, optimizer: Any, ckpt: Path, *, is_lora: bool) -> dict[str, Any]:
    """Restore weights, optimizer and RNG from one of this job's checkpoints; return its json state."""
    import torch
    from safetensors.torch import load_file

    meta_path = ckpt / STATE_JSON
    if not meta_path.is_file():
        raise TrainingError(
            f"{ckpt} is not a resumable checkpoint (no {STATE_JSON}). Restart the job from scratch."
        )
    meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
    if is_lora:
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(model, load_file(ckpt / "adapter_model.safetensors"))
    else:
        weights: dict[str, Any] = {}
        for shard in sorted(ckpt.glob("*.safetensors")):
            weights.update(load_file(shard))
        missing = set(model.state_dict()) - set(weights)
        model.load_state_dict(weights, strict=False)
        if missing and not model.config.tie_word_embeddings:
            raise TrainingError(f"Checkpoint {ckpt.name} lacks {len(missing)} weights. Restart from scratch.")
        if model.config.tie_word_embeddings:
            model.tie_weights()
    state = torch.load(ckpt / STATE_PT, map_location="cpu", weights_only=True)
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng_cpu"])
    if state.get("rng_cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng_cuda"])
    return meta
