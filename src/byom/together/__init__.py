"""Async client for Together's fine-tuning REST API (and the local engine, which speaks it).

One concern per private module, httpx-style; each declares in ``__all__`` what it gives the package, and the
package's export list is built from those (``tests/together/test_exports.py`` holds every module to it).
The package imports a module on the first use of one of its names, never at import: the shapes cost a tenth of
a second of pydantic class building, which a server that has not called Together yet should not pay at start.

- ``_client``: ``TogetherClient``, the one HTTP seam (retries, errors, parsing into the shapes below);
- ``_requests``: the bodies the client sends (fine-tune create, deployments, autoscaling, traffic split);
- ``_upload``: the multipart upload of a training file;
- ``errors``: Together's error answers and transport failures as ``byom.errors``;
- the answers' shapes, one module a resource family: ``_supported_models`` (bases and their limits),
  ``_files``, ``_finetunes`` (jobs, estimates, previews), ``_job_records`` (events, checkpoints, metrics),
  ``_identity``, ``_evals`` (evaluations), ``_registry`` (the ``/v2`` model registry, configs, hardware), ``_endpoints`` (``/v2``
  endpoints, deployments, adapters), ``_inference`` and ``_error_body``; ``_shapes`` holds their bases.
"""

import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers read; at run time ``__getattr__`` imports the one module a name needs
    from byom.together._client import *
    from byom.together._endpoints import *
    from byom.together._error_body import *
    from byom.together._evals import *
    from byom.together._files import *
    from byom.together._finetunes import *
    from byom.together._identity import *
    from byom.together._inference import *
    from byom.together._job_records import *
    from byom.together._registry import *
    from byom.together._requests import *
    from byom.together._supported_models import *
    from byom.together._upload import *
    from byom.together.errors import *

# Searched in this order for a name: first what the tools' result types need at start (a job), the client last,
# so a shape never loads the client and every other shape.
_MODULES = (
    "_job_records",
    "_finetunes",
    "_evals",
    "errors",
    "_error_body",
    "_supported_models",
    "_files",
    "_identity",
    "_registry",
    "_endpoints",
    "_inference",
    "_requests",
    "_upload",
    "_client",
)


def _module(name: str) -> ModuleType:
    # __import__ is the C import path, which ``python -X importtime`` (bench/startup.py) times; importlib's
    # import_module is not, and would count a module's cost to whoever first used one of its names.
    __import__(f"{__name__}.{name}")
    return sys.modules[f"{__name__}.{name}"]


def __getattr__(name: str) -> Any:
    if name == "__all__":  # built, never written out: a name joins it by joining its module's ``__all__``
        value: Any = [n for m in _MODULES for n in _module(m).__all__]
    elif name.startswith("__"):  # a probe (copy, pickle, doctest...) never loads the modules
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    else:
        found = next((module for m in _MODULES if name in (module := _module(m)).__all__), None)
        if found is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(found, name)
    globals()[name] = value  # looked up once
    return value
