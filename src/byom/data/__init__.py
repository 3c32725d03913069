"""Training data: one checker (JSONL and Parquet), and rows → tokens/labels, token statistics and the loss
preview, shared by the MCP tools, the CLI, the local engine and its trainer.

A module loads on the first use of one of its names, never at import: the checker alone (``byom check-data``,
``bench/data_check.py``) then loads 0.09 s of modules, not 0.24 s (the token statistics, the previews and the
tools' result models), and the server does not load the checker (msgspec, the layouts, the parallel scan) until
the first check.
"""

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers read; at run time ``__getattr__`` imports the one module a name needs
    from byom.data._check import *
    from byom.data._checkup import *
    from byom.data._limits import *
    from byom.data._paths import *
    from byom.data._render import *
    from byom.data._report import *
    from byom.data._seqlen import *
    from byom.data._steps import *
    from byom.data._tokens import *

# The package's names, by the module that holds them (each also in that module's ``__all__``).
_HOMES = {
    "_check": ("check_file", "check_jsonl"),
    "_checkup": (
        "ConvertedCopy",
        "DataCheck",
        "PreviewShown",
        "bounded_previews",
        "check_training_file",
        "render_data_check",
    ),
    "_limits": ("MAX_FILE_BYTES", "MAX_LINE_BYTES"),
    "_paths": ("is_local_path", "local_data_path"),
    "_render": ("render_data_report", "render_previews", "render_token_stats"),
    "_report": ("Conversion", "DataReport", "DatasetFormat", "Problem", "ProblemKind", "ValidationReport"),
    "_seqlen": ("DEFAULT_SEQ", "SeqLength", "context_length", "decide_max_seq_length", "tokenizer_limit"),
    "_steps": ("optimizer_steps",),
    "_tokens": (
        "IGNORE",
        "Encoded",
        "PreviewRow",
        "RowPreview",
        "TokenStats",
        "TrainOnInputs",
        "Unrenderable",
        "encode_preference",
        "encode_row",
        "file_token_stats",
        "iter_rows",
        "load_counting_tokenizer",
        "load_model_config",
        "load_tokenizer",
        "preview",
        "preview_row",
        "token_stats",
    ),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    if name == "__all__":  # built, never written out: a name joins it by joining ``_HOMES``
        value: Any = sorted(_HOME_OF)
    else:
        module = _HOME_OF.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        # __import__ is the C import path, which ``python -X importtime`` (bench/startup.py) times where it loads.
        __import__(f"{__name__}.{module}")
        value = getattr(sys.modules[f"{__name__}.{module}"], name)
    globals()[name] = value  # looked up once
    return value
