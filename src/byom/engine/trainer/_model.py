"""Find the base model (local directory or Hub snapshot), refuse remote code, load it, add LoRA."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from byom.contained import require_contained
from byom.engine.trainer._accel import Acceleration, apply_liger
from byom.engine.trainer.spec import TrainSpec
from byom.errors import TrainingError, UnsafeModelFile

__all__ = ["check_no_remote_code", "load_model", "pick_device", "resolve_model_dir"]

# What a training run needs from a repo: config, weights, tokenizer, chat template (ref brief §3).
ALLOW_PATTERNS = ["*.json", "*.safetensors", "tokenizer*", "*.jinja", "*.txt", "*.model", "*.tiktoken"]


def resolve_model_dir(spec: TrainSpec, hf_token: str | None) -> Path:
    """A local directory is used in place; a Hub id is snapshot-downloaded (weights as safetensors only)."""
    local = Path(spec.from_hf_model).expanduser()
    if local.is_dir():
        return _contained(local)
    from huggingface_hub import errors as hf_errors
    from huggingface_hub import snapshot_download

    try:
        path = snapshot_download(
            spec.from_hf_model,
            revision=spec.hf_model_revision,
            allow_patterns=ALLOW_PATTERNS,
            token=hf_token or False,
        )
    except hf_errors.GatedRepoError as exc:
        raise TrainingError(
            f"{spec.from_hf_model} is gated. Accept its licence on huggingface.co and set HF_TOKEN for the engine."
        ) from exc
    except hf_errors.RevisionNotFoundError as exc:
        raise TrainingError(
            f"Revision {spec.hf_model_revision!r} of {spec.from_hf_model} not found. Use a branch, tag or commit SHA."
        ) from exc
    except hf_errors.RepositoryNotFoundError as exc:
        raise TrainingError(
            f"Model repo {spec.from_hf_model} not found (or private). Check the id, or set HF_TOKEN for a private repo."
        ) from exc
    except (hf_errors.LocalEntryNotFoundError, OSError) as exc:
        raise TrainingError(
            f"Could not download {spec.from_hf_model} from the Hugging Face Hub ({type(exc).__name__}). "
            "Check the network, or pass a local model directory."
        ) from exc
    model_dir = Path(path)
    if not any(model_dir.glob("*.safetensors")):
        raise TrainingError(
            f"{spec.from_hf_model} has no .safetensors weights; byom never loads pickle (.bin) weights. "
            "Pick a revision or a repo that ships safetensors."
        )
    return _contained(model_dir)


def _contained(model_dir: Path) -> Path:
    """The directory, when no file in it leads out of it (byom.contained): transformers follows links."""
    try:
        return require_contained(model_dir)
    except UnsafeModelFile as exc:
        raise TrainingError(str(exc)) from None


def check_no_remote_code(model_dir: Path) -> dict[str, Any]:
    """Read config.json and refuse architectures that only load with trust_remote_code."""
    config_path = model_dir / "config.json"
    if not config_path.is_file():
        raise TrainingError(
            f"No config.json in {model_dir.name}; this doesn't look like a transformers model."
        )
    config = json.loads(config_path.read_text(encoding="utf-8"))
    from transformers import CONFIG_MAPPING

    model_type = config.get("model_type")
    if model_type not in CONFIG_MAPPING:
        if config.get("auto_map"):
            raise TrainingError(
                f"Model type {model_type!r} needs custom code from the repo (auto_map, trust_remote_code); "
                "byom never runs repo code. Pick a checkpoint of an architecture transformers supports natively."
            )
        raise TrainingError(
            f"Model type {model_type!r} is unknown to the installed transformers. "
            "Upgrade transformers or pick a supported architecture."
        )
    return config


def pick_device(requested: str) -> Any:
    import torch

    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainingError(
            f"Device {requested!r} was requested but no CUDA GPU is available. Use device 'auto'."
        )
    return device


def load_model(spec: TrainSpec, model_dir: Path, device: Any, accel: Acceleration) -> Any:
    """Load the base with ``accel``'s dtype and attention kernel (byom.engine.trainer._accel); wrap in LoRA;
    apply init_checkpoint."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = getattr(torch, accel.dtype)
    init = spec.init_checkpoint
    full_init = (
        init is not None and (init / "config.json").is_file() and not (init / "adapter_config.json").is_file()
    )
    source = init if full_init and init is not None else model_dir
    model = AutoModelForCausalLM.from_pretrained(
        source,
        dtype=dtype,
        attn_implementation=accel.attention,
        trust_remote_code=False,
        use_safetensors=True,
    )
    model.config.use_cache = False
    if accel.liger:
        apply_liger(model)
    model.to(device)
    if spec.training_type == "full":
        if init is not None and not full_init:
            # from_checkpoint of a LoRA job into a full job: fold the adapter in, then train everything.
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, init).merge_and_unload()
        return model

    from peft import LoraConfig, PeftModel, get_peft_model

    if init is not None and not full_init:
        return PeftModel.from_pretrained(model, init, is_trainable=True)
    modules = spec.lora.trainable_modules
    target: str | list[str] = (
        "all-linear"
        if modules.strip() == "all-linear"
        else [m.strip() for m in modules.split(",") if m.strip()]
    )
    config = LoraConfig(
        r=spec.lora.r,
        lora_alpha=spec.lora.alpha,
        lora_dropout=spec.lora.dropout,
        target_modules=target,
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, config)
    except ValueError as exc:
        raise TrainingError(
            f"LoRA target modules {modules!r} don't match this model ({str(exc).splitlines()[0][:200]}). "
            'Use "all-linear" or module names from the model.'
        ) from exc
