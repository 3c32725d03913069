"""Async client for Together's fine-tuning REST API (and the local engine, which speaks it)."""

from byom.together._client import DEFAULT_BASE_URL, TogetherClient
from byom.together._models import (
    FinetuneModelLimits,
    FullTrainingLimits,
    LoraTrainingLimits,
    SupportedModel,
    SupportedModelPage,
)
from byom.together.errors import error_from_response, error_from_transport

__all__ = [
    "DEFAULT_BASE_URL",
    "FinetuneModelLimits",
    "FullTrainingLimits",
    "LoraTrainingLimits",
    "SupportedModel",
    "SupportedModelPage",
    "TogetherClient",
    "error_from_response",
    "error_from_transport",
]
