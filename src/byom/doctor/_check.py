"""One finding of ``byom doctor``: ok, a warning (worth knowing) or a problem (byom cannot work as configured)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

__all__ = ["Check", "Status"]

Status = Literal["ok", "warning", "problem"]


class Check(BaseModel):
    name: str
    status: Status
    detail: str
    fix: str | None = None
