"""Trainer subprocess: fine-tunes one job with transformers + PEFT.

Light to import (no torch): the engine uses ``TrainSpec``, ``ProgressLine`` and
``unsupported_reason`` to validate a job before starting ``python -m byom.engine.trainer``.
"""

from byom.engine.trainer._main import EXIT_BAD_SPEC, EXIT_CANCELLED, EXIT_FAILED, unsupported_reason
from byom.engine.trainer._watchdog import EXIT_ORPHANED, PARENT_PID_ENV
from byom.engine.trainer.spec import LoraSpec, ProgressLine, TrainSpec, context_length, parse_progress_line

__all__ = [
    "EXIT_BAD_SPEC",
    "EXIT_CANCELLED",
    "EXIT_FAILED",
    "EXIT_ORPHANED",
    "PARENT_PID_ENV",
    "LoraSpec",
    "ProgressLine",
    "TrainSpec",
    "context_length",
    "parse_progress_line",
    "unsupported_reason",
]
