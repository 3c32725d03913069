"""Together's rules on a training file that the parallel scan (``byom.data._scan``) needs before the rest of the
checker loads: the size limits, and which files need an assistant turn."""

from __future__ import annotations

__all__ = ["MAX_FILE_BYTES", "MAX_IMAGES", "MAX_IMAGE_BYTES", "MAX_LINE_BYTES", "needs_assistant"]

MAX_FILE_BYTES = int(50.1 * 2**30)  # v1/v3 SDK MAX_FILE_SIZE_GB = 50.1 (GiB)
MAX_IMAGES = 10  # MAX_IMAGES_PER_EXAMPLE (v1 SDK constants.py)
MAX_IMAGE_BYTES = 10 * 2**20  # 10 MB per image (v1 SDK), decoded size estimated from the base64 length
# Together publishes no per-line limit; its per-example limits (≤ 10 images of ≤ 10 MB, base64 = 4/3 of
# that) put the largest valid multimodal sample near 134 MB, and no text sample that long fits any
# model's context. 16 MiB on top for the text and the JSON around it.
MAX_LINE_BYTES = MAX_IMAGES * MAX_IMAGE_BYTES * 4 // 3 + 16 * 2**20


def needs_assistant(purpose: str) -> bool:
    """Must each sample hold an assistant turn? For training, yes; evaluation data may end at the prompt."""
    return purpose != "eval"
