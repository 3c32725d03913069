"""Resolvers that take a tool's own arguments, written once.

The SDK fills a ``Resolve(fn)`` parameter by calling ``fn`` with the tool arguments it names. A plan needs
all of them; rather than repeat a 30-argument signature, ``takes_arguments_of`` gives the resolver the
tool's signature (minus the resolved parameters), so the tool function stays the one place they are declared.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["takes_arguments_of"]


def takes_arguments_of(
    resolver: Callable[..., Any], tool: Callable[..., Any], *, resolved: tuple[str, ...]
) -> None:
    """Make ``resolver(ctx, **arguments)`` declare each of ``tool``'s parameters except ``resolved`` ones."""
    sig = inspect.signature(tool)
    params = [
        p.replace(annotation=inspect.Parameter.empty)
        for name, p in sig.parameters.items()
        if name not in resolved
    ]
    # The resolver's own annotations (ctx: Context) still classify its context parameter.
    resolver.__signature__ = sig.replace(parameters=params, return_annotation=inspect.Signature.empty)  # type: ignore[attr-defined]
