"""The contract between the engine service and a trainer subprocess.

The engine writes a ``TrainSpec`` as ``<job_dir>/spec.json`` and starts
``python -m byom.engine.trainer <job_dir>/spec.json``. The trainer appends one JSON
object per line to ``<job_dir>/progress.jsonl`` (flushed after each line) — a
``ProgressLine`` — and exits 0 on success, non-zero on failure. Secrets never go into
the spec: an HF token reaches the subprocess only through its ``HF_TOKEN`` environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from byom.data import context_length  # the one reading of a config's context, re-exported for the engine

__all__ = ["LoraSpec", "ProgressLine", "TrainSpec", "context_length"]


class LoraSpec(BaseModel):
    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    trainable_modules: str = "all-linear"  # comma-separated module names, or "all-linear"


class TrainSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str
    job_dir: Path
    # What to train: a Hub repo id or a local directory, and where to start from.
    from_hf_model: str
    hf_model_revision: str | None = None
    init_checkpoint: Path | None = None  # from_checkpoint: a saved checkpoint dir of another job
    init_from: str | None = None  # that checkpoint as a person names it: "ft-… step 24", for the job's events
    resume_checkpoint: Path | None = None  # restart after a crash: this job's own last checkpoint
    # Data: paths of validated JSONL files.
    training_file: Path
    validation_file: Path | None = None
    # Hyperparameters, with Together's meanings and defaults.
    n_epochs: int = 1
    n_checkpoints: int = 1
    n_evals: int = 0
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-5
    lr_scheduler_type: Literal["linear", "cosine"] = "cosine"
    min_lr_ratio: float = 0.0
    num_cycles: float = 0.5
    warmup_ratio: float = 0.0
    max_grad_norm: float = 1.0  # 0 disables clipping
    weight_decay: float = 0.0
    max_seq_length: int = 2048
    packing: bool = True
    training_type: Literal["lora", "full"] = "lora"
    lora: LoraSpec = Field(default_factory=LoraSpec)
    method: Literal["sft", "dpo"] = "sft"
    train_on_inputs: bool | Literal["auto"] = "auto"
    dpo_beta: float = 0.1
    random_seed: int = 42
    merge_lora: bool = True  # also write a merged full model for LoRA jobs
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...


class ProgressLine(BaseModel):
    """One line of ``progress.jsonl``.

    kind="event":      type (Together's lowercase event type), message, level
    kind="metric":     step, values (e.g. {"train/loss": 1.2, "train/learning_rate": 1e-5,
                       "train/tokens_per_second": 900.0, "eval/loss": ...}), total_steps
    kind="checkpoint": step, path (dir with safetensors), checkpoint ("adapter" | "model"),
                       final (bool)
    kind="result":     outputs {"adapter": path|None, "model": path|None, "merged": path|None},
                       token_count, param_count, total_steps
    kind="error":      stage (download|initialization|training|saving), message (the root
                       error line), error_type (e.g. "OutOfMemoryError")
    """

    model_config = ConfigDict(extra="allow")

    kind: Annotated[str, Field(pattern="^(event|metric|checkpoint|result|error)$")]
    time: float
