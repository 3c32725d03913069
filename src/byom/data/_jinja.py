"""transformers' chat-template sandbox, rebuilt on jinja2 alone, for the plain tokenizer (``byom.data._plain``).

Importing transformers costs more than the whole token count of a 2,000-row file, so the data check renders with
this copy of what ``apply_chat_template`` runs (transformers 5.25, ``utils/chat_template_utils.py``):

    template ──compile_template: ImmutableSandboxedEnvironment(trim_blocks, lstrip_blocks, loopcontrols,
               {% generation %}), tojson, raise_exception, strftime_now, dict, namespace──► compiled
    messages ──template_messages: keys with None dropped, reasoning aliased──► what the template reads

The data handed over is JSON (rows of a file), so transformers' ``_plain_template_data`` copy changes nothing:
the sandbox is immutable, so a render cannot change what the next one sees. tests/data/test_token_paths.py holds
every render to ``apply_chat_template``'s text.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any

import jinja2
import jinja2.exceptions
import jinja2.ext
import jinja2.nodes
import jinja2.utils
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["MIN_JINJA", "compile_template", "template_messages"]

MIN_JINJA = (3, 1, 6)  # transformers refuses older jinja2: known sandbox escapes
# Names a message's reasoning is passed under; the first is the one templates read (transformers' list).
_REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")


class _Generation(jinja2.ext.Extension):
    """``{% generation %}…{% endgeneration %}``: the body as written (transformers' tracker, never tracking)."""

    tags: set[str] = {"generation"}  # noqa: RUF012 - declared so by jinja2.ext.Extension

    def parse(self, parser: Any) -> jinja2.nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

    def _body(self, caller: Any) -> str:
        return str(caller())


class _TemplateDict:
    """``dict`` for templates without the type's attributes (transformers' TemplateDict)."""

    def __call__(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        return dict(*args, **kwargs)

    def fromkeys(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        return dict.fromkeys(*args, **kwargs)


class _Namespace(jinja2.utils.Namespace):
    """``namespace`` that refuses underscore-prefixed names (transformers' TemplateNamespace)."""

    def __init__(*args: Any, **kwargs: Any) -> None:
        # No named self, as Jinja's Namespace: a template may pass namespace(self=...).
        self, rest = args[0], args[1:]
        attrs = dict(*rest, **kwargs)
        for name in attrs:
            _Namespace._check(name)
        jinja2.utils.Namespace.__init__(self, attrs)

    def __setitem__(self, name: str, value: Any) -> None:
        _Namespace._check(name)
        jinja2.utils.Namespace.__setitem__(self, name, value)

    @staticmethod
    def _check(name: Any) -> None:
        if isinstance(name, str) and name.startswith("_"):
            raise jinja2.exceptions.SecurityError(
                f"Chat templates cannot store underscore-prefixed attributes on a namespace, but got {name!r}. "
                "Please rename the attribute."
            )


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _tojson(
    x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None, sort_keys: bool = False
) -> str:
    # Jinja's own filter escapes HTML characters; templates expect plain JSON with these options.
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _strftime_now(format: str) -> str:
    return datetime.now().strftime(format)


@lru_cache(maxsize=16)
def compile_template(source: str) -> jinja2.Template:
    """The template compiled in the sandbox ``apply_chat_template`` renders in (compiled once per text)."""
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_Generation, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    env.globals["dict"] = _TemplateDict()
    env.globals["namespace"] = _Namespace
    return env.from_string(source)


def template_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """JSON messages as the template reads them: keys whose value is None dropped (transformers'
    ``_normalize_chat_messages``), reasoning under every name templates read (``_alias_reasoning_fields``)."""
    out = []
    for message in messages:
        kept = {key: value for key, value in message.items() if value is not None}
        reasoning = next((kept[key] for key in _REASONING_FIELDS if kept.get(key) is not None), None)
        if reasoning is not None:
            kept = {"thinking": reasoning, **kept, "reasoning_content": reasoning}
        out.append(kept)
    return out
