"""A line that is not JSON, described where it breaks and by what is missing.

``json.loads`` on a line with its newline reports an early end as "line 2 column 1"; the column here is the
decoder's position on the line itself, and a line that ends too early says which brackets are still open.
"""

from __future__ import annotations

import json

__all__ = ["describe_json_error"]

_CLOSE = {"{": "}", "[": "]"}


def describe_json_error(text: str, exc: json.JSONDecodeError) -> tuple[str, str]:
    """``(what is wrong, where it is: the decoder's message and column)`` plus the fix, for one line's text (its
    line ending already removed)."""
    msg = exc.msg.removesuffix(" at")
    where = f"{msg} at column {exc.pos + 1}"
    end = len(text.rstrip())
    if exc.pos >= end or msg.startswith("Unterminated string"):
        missing = _unclosed(text)
        if missing:
            n = len(missing.lstrip('"'))
            brackets = f"{n} bracket{'s' if n != 1 else ''} still open"
            what = (
                f"inside a string begun at column {exc.pos + 1}" + (f", {brackets}" if n else "")
                if missing.startswith('"')
                else f"before the JSON closes: {brackets}"
            )
            return (
                f"the line ends at column {end} {what} (`{missing}` missing)",
                "The line was cut off: restore the rest of the row (one complete JSON object per line).",
            )
    if exc.msg.startswith("Extra data"):
        return (
            f"{where}: a second JSON value starts there",
            "Put one JSON object per line: break the line where the first object ends.",
        )
    if exc.msg.startswith("Expecting property name enclosed in double quotes"):
        return (
            where,
            (
                "JSON needs double quotes and no trailing commas (a Python dict repr is not JSON): write each "
                "row with json.dumps."
            ),
        )
    return where, "Each line must be one complete JSON object."


def _unclosed(text: str) -> str:
    """What closes ``text``: an open string's quote first, then the open brackets innermost first."""
    stack: list[str] = []
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in _CLOSE:
            stack.append(_CLOSE[c])
        elif c in "}]" and stack and stack[-1] == c:
            stack.pop()
    return ('"' if in_string else "") + "".join(reversed(stack))
