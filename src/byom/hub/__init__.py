"""Hugging Face checkpoint inspection: metadata, safetensors headers and Together BYOM compatibility checks."""

from typing import TYPE_CHECKING, Any

from ._memory import memory_estimate
from ._models import Finding, InspectReport, MemoryEstimate
from ._render import render_report
from ._units import human_bytes, human_params

if TYPE_CHECKING:
    from ._analyze import MAX_PARAMS
    from ._local import chat_template_present, local_safetensors_params, tokenizer_problem
    from .inspector import HubInspector, parse_model_ref

__all__ = [
    "MAX_PARAMS",
    "Finding",
    "HubInspector",
    "InspectReport",
    "MemoryEstimate",
    "chat_template_present",
    "human_bytes",
    "human_params",
    "local_safetensors_params",
    "memory_estimate",
    "parse_model_ref",
    "render_report",
    "tokenizer_problem",
]


def __getattr__(name: str) -> Any:
    # huggingface_hub costs ~0.15 s to import: load it on the first inspection, not at server start-up; the
    # analyser and the local reader (safetensors headers, snapshots) likewise on first use.
    if name in ("HubInspector", "parse_model_ref"):
        from . import inspector

        return getattr(inspector, name)
    if name == "MAX_PARAMS":
        from . import _analyze

        return _analyze.MAX_PARAMS
    if name in ("chat_template_present", "local_safetensors_params", "tokenizer_problem"):
        from . import _local

        return getattr(_local, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
