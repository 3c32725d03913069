"""Regenerate the transformers-derived package data (causal-LM and config model types).

Run ``python -m byom.hub._generate`` after upgrading transformers; the test suite compares the shipped
files with a fresh generation whenever the installed transformers matches the recorded version.
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["generate_causal_lm_types", "generate_config_model_types", "write_package_data"]

CAUSAL_LM_FILE = "causal_lm_types.json"
CONFIG_TYPES_FILE = "config_model_types.json"


def generate_causal_lm_types() -> dict[str, Any]:
    """Return transformers' MODEL_FOR_CAUSAL_LM_MAPPING_NAMES (model_type -> class) with its version."""
    import transformers
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    return {
        "source": "transformers.models.auto.modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES",
        "transformers_version": transformers.__version__,
        "mapping": dict(sorted(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.items())),
    }


def generate_config_model_types() -> dict[str, Any]:
    """Return transformers' CONFIG_MAPPING_NAMES keys (model types it ships code for) with its version."""
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return {
        "source": "transformers.models.auto.configuration_auto.CONFIG_MAPPING_NAMES",
        "transformers_version": transformers.__version__,
        "model_types": sorted(CONFIG_MAPPING_NAMES),
    }


def write_package_data(directory: Path | None = None) -> list[Path]:
    """Write both JSON files into ``directory`` (default: this package) and return their paths."""
    target = directory or Path(str(resources.files("byom.hub")))
    written = []
    for name, payload in (
        (CAUSAL_LM_FILE, generate_causal_lm_types()),
        (CONFIG_TYPES_FILE, generate_config_model_types()),
    ):
        path = target / name
        path.write_text(json.dumps(payload, indent=1, sort_keys=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_package_data(Path(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(written_path)
