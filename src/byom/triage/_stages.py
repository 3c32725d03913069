"""Which of Together's stages a fine-tune is in, read from its latest progress event: one table for
``job_status`` (where the job is) and ``explain_error`` (where it failed)."""

from __future__ import annotations

from byom.triage._catalog import Stage

__all__ = ["EVENT_STAGES"]

# The BYOM docs' five stages (Troubleshooting → Understanding Training Stages: data download, initialization,
# training, saving, upload), by event type. An event names the stage the job is in once it has happened, so a
# failure after it failed in that stage: model_compression_complete ends the saving, so what follows is upload.
EVENT_STAGES: dict[str, Stage] = {
    "job_pending": "create",
    "job_start": "download",
    "model_downloading": "download",
    "model_download_complete": "download",
    "training_data_downloading": "download",
    "training_data_download_complete": "initialization",
    "validation_data_downloading": "download",
    "validation_data_download_complete": "initialization",
    "wandb_init": "initialization",
    "training_start": "training",
    "epoch_complete": "training",
    "checkpoint_save": "training",
    "eval_complete": "training",
    "training_complete": "saving",
    "model_compressing": "saving",
    "model_compression_complete": "upload",
    "model_uploading": "upload",
    "model_upload_complete": "upload",
    "model_uploading_to_hf": "upload",
}
