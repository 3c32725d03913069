"""Async client for Together's fine-tuning REST API (and the local engine, which speaks it).

One concern per private module, httpx-style; each declares in ``__all__`` what it gives the package, and the
package's export list is built from those (``tests/together/test_exports.py`` holds every module to it):

- ``_client``: ``TogetherClient``, the one HTTP seam (retries, errors, parsing into the shapes below);
- ``_requests``: the bodies the client sends (fine-tune create, deployments, autoscaling, traffic split);
- ``_upload``: the multipart upload of a training file;
- ``errors``: Together's error answers and transport failures as ``byom.errors``;
- the answers' shapes, one module a resource family: ``_supported_models`` (bases and their limits),
  ``_files``, ``_finetunes`` (jobs, estimates, previews), ``_job_records`` (events, checkpoints, metrics),
  ``_identity``, ``_evals`` (evaluations), ``_registry`` (the ``/v2`` model registry, configs, hardware), ``_endpoints`` (``/v2``
  endpoints, deployments, adapters), ``_inference`` and ``_error_body``; ``_shapes`` holds their bases.
"""

from byom.together import (
    _client,
    _endpoints,
    _error_body,
    _evals,
    _files,
    _finetunes,
    _identity,
    _inference,
    _job_records,
    _registry,
    _requests,
    _supported_models,
    _upload,
    errors,
)
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

# Built, never written out: a name joins the package's exports by joining its module's ``__all__``.
__all__: list[str] = []
__all__ += _client.__all__
__all__ += _requests.__all__
__all__ += _upload.__all__
__all__ += errors.__all__
__all__ += _supported_models.__all__
__all__ += _files.__all__
__all__ += _finetunes.__all__
__all__ += _job_records.__all__
__all__ += _identity.__all__
__all__ += _registry.__all__
__all__ += _endpoints.__all__
__all__ += _inference.__all__
__all__ += _error_body.__all__
__all__ += _evals.__all__
