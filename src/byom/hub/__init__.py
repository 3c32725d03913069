"""Hugging Face checkpoint inspection: metadata, safetensors headers and Together BYOM compatibility checks."""

from ._models import Finding, InspectReport, MemoryEstimate
from ._render import render_report
from .inspector import HubInspector, parse_model_ref

__all__ = ["Finding", "HubInspector", "InspectReport", "MemoryEstimate", "parse_model_ref", "render_report"]
