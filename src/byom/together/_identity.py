"""Who the key belongs to (``GET /v3/whoami``)."""

from __future__ import annotations

from byom.together._shapes import _Lenient

__all__ = ["Whoami"]


class _IdName(_Lenient):
    id: str | None = None
    name: str | None = None


class WhoamiProject(_IdName):
    slug: str | None = None


class Whoami(_Lenient):
    """``GET /v3/whoami``, discriminated by ``type`` (``project_api_key``, ``org_api_key``, ``user_*``; ref §3.2)."""

    type: str | None = None
    api_key: _IdName | None = None
    organization: _IdName | None = None
    project: WhoamiProject | None = None
    user: _IdName | None = None
