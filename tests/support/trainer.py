"""A trainer spec for the tiny model: what the trainer tests run, in a process or in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from byom.engine.trainer import TrainSpec

__all__ = ["make_spec"]


def make_spec(job_dir: Path, model: Path | str, data: Path, **overrides: Any) -> TrainSpec:
    base: dict[str, Any] = {
        "job_id": job_dir.name,
        "job_dir": job_dir,
        "from_hf_model": str(model),
        "training_file": data,
        "n_epochs": 3,
        "batch_size": 4,
        "learning_rate": 1e-2,
        "packing": False,
        "lr_scheduler_type": "linear",
        "merge_lora": False,
    }
    return TrainSpec(**{**base, **overrides})
