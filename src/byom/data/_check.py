"""Check a JSONL training file against Together's dataset rules, one line at a time.

Rules follow the newest data-preparation docs (tools, the ``tool`` role, message and sample
weights, reasoning are accepted); what only the legacy v1 SDK ``check_file`` rejects (extra
keys, non-alternating roles) is reported as a warning. Sources: ref/together-api.md §3,
ref/together-api-2026-11.md §1.5-1.6.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import IO, Any

from byom.data._report import DatasetFormat, ValidationReport

__all__ = ["MAX_FILE_BYTES", "check_jsonl"]

MAX_FILE_BYTES = int(50.1 * 2**30)  # v1/v3 SDK MAX_FILE_SIZE_GB = 50.1 (GiB)
_MAX_IMAGES = 10  # MAX_IMAGES_PER_EXAMPLE
_MAX_IMAGE_BYTES = 10 * 2**20  # 10 MB per image (base64 payload, decoded estimate)
_QUOTE = 80
_MAX_WARNINGS = 20

_ROLES = ("system", "user", "assistant", "tool")
_FORMAT_KEYS: dict[DatasetFormat, tuple[str, ...]] = {
    "general": ("text",),
    "conversation": ("messages",),
    "instruction": ("prompt", "completion"),
    "preference": ("input", "preferred_output", "non_preferred_output"),
}
# Keys the newest docs accept beyond the required ones; "weight" is the sample-level loss multiplier.
_OPTIONAL_KEYS: dict[DatasetFormat, tuple[str, ...]] = {
    "general": ("weight",),
    "conversation": ("tools", "weight"),
    "instruction": ("weight",),
    "preference": ("weight",),
}
_MESSAGE_KEYS = {
    "role",
    "content",
    "weight",
    "tool_calls",
    "tool_call_id",
    "name",
    "reasoning",
    "reasoning_content",
}
_IMAGE_PREFIXES = ("data:image/jpeg;base64,", "data:image/png;base64,", "data:image/webp;base64,")


class _LineError(Exception):
    """One rule broken on the current line (message without the line prefix)."""


def _quote(value: Any) -> str:
    """A short, safe rendering of untrusted content for an error message."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = text.replace("\n", "\\n")
    return repr(text[:_QUOTE] + ("…" if len(text) > _QUOTE else ""))


class _Checker:
    """Holds what the file has shown so far (format, flags, warnings)."""

    def __init__(self, purpose: str) -> None:
        self.purpose = purpose
        self.fmt: DatasetFormat | None = None
        self.fmt_line = 0
        self.flags = {
            "has_message_weights": False,
            "has_sample_weights": False,
            "has_tools": False,
            "has_parallel_tool_calls": False,
            "has_reasoning": False,
            "is_multimodal": False,
        }
        self.warnings: list[str] = []
        self._warned: set[str] = set()

    def warn(self, key: str, message: str) -> None:
        # One warning per kind of issue, so a big file doesn't produce thousands.
        if key in self._warned or len(self.warnings) >= _MAX_WARNINGS:
            return
        self._warned.add(key)
        self.warnings.append(message)

    # -- one line ---------------------------------------------------------------------------
    def line(self, lineno: int, obj: Any) -> None:
        if not isinstance(obj, dict):
            raise _LineError(
                f"expected a JSON object, got {type(obj).__name__} {_quote(obj)}. "
                'Write one object per line, e.g. {"messages": [...]}.'
            )
        fmt = self._detect(obj)
        if self.fmt is None:
            self.fmt, self.fmt_line = fmt, lineno
        elif fmt != self.fmt:
            raise _LineError(
                f"this line is in the {fmt} format but line {self.fmt_line} is {self.fmt}. "
                "Use one format for the whole file."
            )
        allowed = set(_FORMAT_KEYS[fmt]) | set(_OPTIONAL_KEYS[fmt])
        extra = sorted(k for k in obj if k not in allowed)
        if extra:
            self.warn(
                f"extra:{','.join(extra)}",
                f"Line {lineno}: extra key(s) {', '.join(_quote(k) for k in extra[:5])} are ignored in training; "
                "the legacy together SDK (v1) check rejects them. Remove them to be safe.",
            )
        if "weight" in obj:
            self._sample_weight(obj["weight"])
        if fmt == "general":
            self._text(obj["text"])
        elif fmt == "conversation":
            if "tools" in obj:
                self._tools(obj["tools"])
            self._messages(obj["messages"], lineno, where="messages", need_assistant=self.purpose != "eval")
        elif fmt == "instruction":
            self._content(obj["prompt"], where="prompt", role="user")
            self._content(obj["completion"], where="completion", role="assistant")
        else:
            self._preference(obj, lineno)

    def _detect(self, obj: dict[str, Any]) -> DatasetFormat:
        found = [f for f, keys in _FORMAT_KEYS.items() if all(k in obj for k in keys)]
        if len(found) > 1:
            raise _LineError(
                f"this line matches more than one format ({' and '.join(found)}). "
                "Keep only the keys of one format per line."
            )
        if found:
            return found[0]
        if "prompt" in obj or "completion" in obj:
            missing = "completion" if "prompt" in obj else "prompt"
            raise _LineError(
                f'the instruction format needs both "prompt" and "completion"; "{missing}" is missing.'
            )
        if any(k in obj for k in _FORMAT_KEYS["preference"]):
            absent = [k for k in _FORMAT_KEYS["preference"] if k not in obj]
            raise _LineError(f"the preference format needs {', '.join(absent)} as well.")
        keys = ", ".join(_quote(k) for k in list(obj)[:5]) or "none"
        raise _LineError(
            f'no dataset format recognised (keys found: {keys}). Use "text" (general), "messages" '
            '(conversation), "prompt" + "completion" (instruction) or "input" + "preferred_output" + '
            '"non_preferred_output" (preference).'
        )

    def _sample_weight(self, weight: Any) -> None:
        if (
            isinstance(weight, bool)
            or not isinstance(weight, (int, float))
            or not math.isfinite(weight)
            or weight < 0
        ):
            raise _LineError(f'sample "weight" must be a non-negative number, got {_quote(weight)}.')
        self.flags["has_sample_weights"] = True

    def _text(self, text: Any) -> None:
        if not isinstance(text, str):
            raise _LineError(f'"text" must be a string, got {type(text).__name__} {_quote(text)}.')
        if not text.strip():
            raise _LineError('"text" is empty. Remove the line or give it some text.')

    def _tools(self, tools: Any, where: str = "tools") -> None:
        if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
            raise _LineError(f'"{where}" must be a list of tool objects, got {_quote(tools)}.')
        self.flags["has_tools"] = True

    def _messages(
        self, messages: Any, lineno: int, *, where: str, need_assistant: bool
    ) -> list[dict[str, Any]]:
        if not isinstance(messages, list) or not messages:
            raise _LineError(f'"{where}" must be a non-empty list of messages, got {_quote(messages)}.')
        images = 0
        prev_role: str | None = None
        for i, msg in enumerate(messages):
            at = f"{where}[{i}]"
            if not isinstance(msg, dict):
                raise _LineError(f'{at} must be an object with "role" and "content", got {_quote(msg)}.')
            role = msg.get("role")
            if role not in _ROLES:
                raise _LineError(f"{at} has role {_quote(role)}; use one of {', '.join(_ROLES)}.")
            if i == 0 and role not in ("system", "user"):
                raise _LineError(f"{where} must start with a system or user message, not {role}.")
            extra = sorted(k for k in msg if k not in _MESSAGE_KEYS)
            if extra:
                self.warn(
                    f"msgextra:{','.join(extra)}",
                    f"Line {lineno}: message key(s) {', '.join(_quote(k) for k in extra[:5])} are ignored; "
                    "the legacy together SDK (v1) check accepts only role, content and weight.",
                )
            if "tool_calls" in msg:
                calls = msg["tool_calls"]
                if role != "assistant" or not isinstance(calls, list):
                    raise _LineError(f'{at}: "tool_calls" must be a list on an assistant message.')
                self.flags["has_tools"] = True
                if len(calls) > 1:
                    self.flags["has_parallel_tool_calls"] = True
            if role == "tool":
                self.flags["has_tools"] = True
            msg_images = 0
            if "content" not in msg or msg["content"] is None:
                # An assistant turn that only calls tools may omit its content.
                if not (role == "assistant" and msg.get("tool_calls")):
                    raise _LineError(f'{at} ({role}) has no "content". Give every message a content string.')
            else:
                msg_images = self._content(msg["content"], where=f"{at}.content", role=role)
                images += msg_images
            if "weight" in msg:
                weight = msg["weight"]
                if isinstance(weight, bool) or weight not in (0, 1):
                    raise _LineError(f'{at}: "weight" must be 0 or 1, got {_quote(weight)}.')
                self.flags["has_message_weights"] = True
                if weight and msg_images:
                    raise _LineError(f"{at}: a message with images cannot have a non-zero weight.")
            if role == "assistant" and any(k in msg for k in ("reasoning", "reasoning_content")):
                self.flags["has_reasoning"] = True
            if prev_role is not None and role == prev_role and role != "tool":
                self.warn(
                    "alternate",
                    f"Line {lineno}: two consecutive {role} messages ({at}). Current docs accept it, but the "
                    "legacy together SDK (v1) check requires user/assistant turns to alternate.",
                )
            prev_role = role
        if images > _MAX_IMAGES:
            raise _LineError(f"{images} images in one example; at most {_MAX_IMAGES} are allowed.")
        if need_assistant and not any(m.get("role") == "assistant" for m in messages):
            raise _LineError(
                f'"{where}" has no assistant message, so there is nothing to learn. Add the assistant reply.'
            )
        return messages

    def _content(self, content: Any, *, where: str, role: str) -> int:
        """Check a content value (string or multimodal parts); return how many images it holds."""
        if isinstance(content, str):
            return 0
        if not isinstance(content, list) or not content:
            raise _LineError(
                f"{where} must be a string or a list of content parts, got {type(content).__name__} {_quote(content)}."
            )
        images = 0
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                if not isinstance(part.get("text"), str):
                    raise _LineError(f'{where}[{j}] is a text part without a "text" string.')
            elif kind == "image_url":
                url = (
                    part.get("image_url", {}).get("url") if isinstance(part.get("image_url"), dict) else None
                )
                if role != "user":
                    raise _LineError(f"{where}[{j}]: images are allowed only in user messages.")
                if not isinstance(url, str) or not url.startswith(_IMAGE_PREFIXES):
                    raise _LineError(
                        f"{where}[{j}]: image_url.url must be a data URL (data:image/jpeg|png|webp;base64,...), "
                        f"got {_quote(url)}."
                    )
                if len(url) * 3 // 4 > _MAX_IMAGE_BYTES:
                    raise _LineError(f"{where}[{j}]: image larger than 10 MB. Resize it.")
                images += 1
                self.flags["is_multimodal"] = True
            else:
                raise _LineError(
                    f'{where}[{j}] must be {{"type": "text", "text": ...}} or {{"type": "image_url", '
                    f'"image_url": {{"url": ...}}}}, got {_quote(part)}.'
                )
        return images

    def _preference(self, obj: dict[str, Any], lineno: int) -> None:
        inp = obj["input"]
        if not isinstance(inp, dict) or "messages" not in inp:
            raise _LineError(f'"input" must be an object with "messages", got {_quote(inp)}.')
        if "tools" in inp:
            self._tools(inp["tools"], where="input.tools")
        msgs = self._messages(inp["messages"], lineno, where="input.messages", need_assistant=False)
        if msgs[-1].get("role") == "assistant":
            raise _LineError("the last message of input.messages must not be from the assistant.")
        for key in ("preferred_output", "non_preferred_output"):
            out = obj[key]
            if not isinstance(out, list) or len(out) != 1:
                raise _LineError(
                    f'"{key}" must be a list with exactly one assistant message, got {_quote(out)}.'
                )
            msg = out[0]
            if not isinstance(msg, dict) or msg.get("role") != "assistant" or "content" not in msg:
                raise _LineError(
                    f'"{key}[0]" must be {{"role": "assistant", "content": ...}}, got {_quote(msg)}.'
                )
            self._content(msg["content"], where=f"{key}[0].content", role="assistant")
            if any(k in msg for k in ("reasoning", "reasoning_content")):
                self.flags["has_reasoning"] = True


def check_jsonl(
    source: Path | bytes, *, purpose: str = "fine-tune", max_lines_reported: int = 1
) -> ValidationReport:
    """Check a JSONL training file (a path, streamed line by line, or bytes) against Together's rules."""
    if isinstance(source, (bytes, bytearray)):
        return _check_stream(io.BytesIO(source), purpose, max_lines_reported, size=len(source))
    path = Path(source)
    if not path.is_file():
        return _fail(f"File not found or not a regular file: {path.name}. Check the path.")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        return _fail(f"File is {size / 2**30:.1f} GiB; the limit is 50.1 GiB. Split it into smaller files.")
    with path.open("rb") as stream:
        return _check_stream(stream, purpose, max_lines_reported, size=size)


def _fail(message: str, line: int | None = None) -> ValidationReport:
    return ValidationReport(valid=False, error=message, error_line=line, errors=[message])


def _check_stream(stream: IO[bytes], purpose: str, max_reported: int, *, size: int) -> ValidationReport:
    if size == 0:
        return _fail("File is empty. Add at least one example, one JSON object per line.")
    checker = _Checker(purpose)
    errors: list[tuple[int, str]] = []
    nlines = 0
    for lineno, raw in enumerate(stream, start=1):  # streams: never the whole file
        if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
            checker.warn("bom", "Line 1: the file starts with a UTF-8 byte-order mark; some tools reject it.")
        if not raw.strip():
            continue  # blank lines are skipped (SDK check_file)
        nlines += 1
        if len(errors) >= max(1, max_reported):
            continue  # keep counting lines, stop checking
        try:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _LineError(f"not valid UTF-8 (byte {exc.start}). Save the file as UTF-8.") from exc
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise _LineError(
                    f"not valid JSON ({exc.msg.removesuffix(' at')} at column {exc.colno}): {_quote(text.rstrip())}. "
                    "Each line must be one complete JSON object."
                ) from exc
            checker.line(lineno, obj)
        except _LineError as exc:
            errors.append((lineno, f"Line {lineno}: {exc}"))
        except RecursionError:
            errors.append((lineno, f"Line {lineno}: JSON nested too deeply. Flatten the object."))
    if nlines == 0 and not errors:
        return _fail("File has no examples (only blank lines). Add at least one JSON object per line.")
    return ValidationReport(
        valid=not errors,
        dataset_format=checker.fmt,
        nlines=nlines,
        error=errors[0][1] if errors else None,
        error_line=errors[0][0] if errors else None,
        errors=[m for _, m in errors],
        warnings=checker.warnings,
        **checker.flags,
    )
