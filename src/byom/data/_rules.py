"""Together's dataset rules, checked on one parsed JSONL sample: the authoritative, precise path.

Rules follow the newest data-preparation docs (ref together-api.md §3; together-api-2026-11.md
§1.5-1.6): the ``tool`` role, ``tools``/``tool_calls``, message weights 0/1, a sample ``weight``
and ``reasoning``/``reasoning_content`` are accepted. What only the legacy v1 SDK ``check_file``
rejects (unknown keys, non-alternating turns) is a warning. ``byom.data._fast`` holds a typed
schema that passes only samples these rules accept; anything it does not pass comes here.
"""

from __future__ import annotations

import json
import math
from typing import Any

from byom.data._limits import MAX_IMAGE_BYTES, MAX_IMAGES, needs_assistant
from byom.data._report import DatasetFormat, Problem, ProblemKind
from byom.untrusted import PROBLEM_QUOTE_CHARS, clip

__all__ = [
    "FLAG_NAMES",
    "FORMAT_KEYS",
    "LineError",
    "Rules",
    "detect",
    "quote",
]

ROLES = ("system", "user", "assistant", "tool")
FORMAT_KEYS: dict[DatasetFormat, tuple[str, ...]] = {
    "general": ("text",),
    "conversation": ("messages",),
    "instruction": ("prompt", "completion"),
    "preference": ("input", "preferred_output", "non_preferred_output"),
}
# Keys the newest docs accept beyond the required ones; "weight" is the sample-level loss multiplier.
OPTIONAL_KEYS: dict[DatasetFormat, tuple[str, ...]] = {
    "general": ("weight",),
    "conversation": ("tools", "weight"),
    "instruction": ("weight",),
    "preference": ("weight",),
}
MESSAGE_KEYS = frozenset(
    ("role", "content", "weight", "tool_calls", "tool_call_id", "name", "reasoning", "reasoning_content")
)
_IMAGE_PREFIXES = ("data:image/jpeg;base64,", "data:image/png;base64,", "data:image/webp;base64,")
FLAG_NAMES = (
    "has_message_weights",
    "has_sample_weights",
    "has_tools",
    "has_parallel_tool_calls",
    "has_reasoning",
    "is_multimodal",
)


class LineError(Exception):
    """The first rule a sample breaks (one error per line; warnings are collected separately)."""

    def __init__(self, kind: ProblemKind, field: str | None, message: str, fix: str) -> None:
        super().__init__(message)
        self.kind, self.field, self.message, self.fix = kind, field, message, fix


def quote(value: Any) -> str:
    """A short, safe rendering of untrusted content for a message (``PROBLEM_QUOTE_CHARS``, saying what was cut)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return repr(clip(text.replace("\n", "\\n"), PROBLEM_QUOTE_CHARS))


_TOGETHER_PREFERENCE = (
    '{"input": {"messages": [...]}, "preferred_output": [{"role": "assistant", ...}], '
    '"non_preferred_output": [{"role": "assistant", ...}]}'
)


def detect(obj: dict[str, Any], method: str | None = None) -> DatasetFormat:
    """The sample's format from its keys; LineError when none or several match (``method`` "dpo": the fix
    speaks of preference pairs)."""
    found = [f for f, keys in FORMAT_KEYS.items() if all(k in obj for k in keys)]
    if len(found) > 1:
        raise LineError(
            "mixed_formats",
            None,
            f"this line matches more than one format ({' and '.join(found)}).",
            "Keep only the keys of one format per line.",
        )
    if found:
        return found[0]
    if "chosen" in obj or "rejected" in obj:
        need = [k for k in ("prompt", "chosen", "rejected") if k not in obj]
        raise LineError(
            "missing_key",
            need[0],
            f"a preference pair needs a prompt, a chosen and a rejected answer; {' and '.join(need)} "
            f"{'is' if len(need) == 1 else 'are'} missing.",
            f"Add {' and '.join(need)} (TRL's layout, which converts to Together's preference format).",
        )
    if method == "dpo" and "input" not in obj:
        keys = ", ".join(quote(k) for k in list(obj)[:5]) or "none"
        raise LineError(
            "missing_key",
            "chosen",
            f"DPO trains on preference pairs, and this row has none (keys found: {keys}).",
            'Give each prompt a preferred and a rejected answer: {"prompt": ..., "chosen": ..., "rejected": ...} '
            f"(TRL's layout, converted for you) or Together's {_TOGETHER_PREFERENCE}.",
        )
    if "prompt" in obj or "completion" in obj:
        missing = "completion" if "prompt" in obj else "prompt"
        raise LineError(
            "missing_key",
            missing,
            f'the instruction format needs both "prompt" and "completion"; "{missing}" is missing.',
            f'Add "{missing}".',
        )
    if any(k in obj for k in FORMAT_KEYS["preference"]):
        absent = [k for k in FORMAT_KEYS["preference"] if k not in obj]
        raise LineError(
            "missing_key",
            absent[0],
            f"the preference format needs {', '.join(absent)} as well.",
            "Give input, preferred_output and non_preferred_output.",
        )
    keys = ", ".join(quote(k) for k in list(obj)[:5]) or "none"
    raise LineError(
        "unknown_format",
        None,
        f"no dataset format recognised (keys found: {keys}).",
        'Use "text" (general), "messages" (conversation), "prompt" + "completion" (instruction) or "input" + '
        '"preferred_output" + "non_preferred_output" (preference).',
    )


def _fill(role: str, where: str) -> str:
    """How to fix an empty turn without leaving a broken example behind."""
    if where.endswith("_output[0].content"):
        return "Write that answer, or remove the whole pair."
    if not where.startswith("messages") and not where.startswith("input."):
        return "Write it, or remove the whole example."
    if role == "user":
        return (
            "Write the user's turn, or remove the whole example: without its question, the answer after it "
            "teaches nothing."
        )
    return (
        "Write the answer, or remove the whole example: a question left without its answer teaches nothing."
    )


class Rules:
    """Checks samples one at a time; remembers the file's format and which flags it has shown."""

    def __init__(self, purpose: str, method: str | None = None) -> None:
        self.purpose = purpose
        self.method = method
        self.fmt: DatasetFormat | None = None
        self.fmt_line = 0
        self.flags = dict.fromkeys(FLAG_NAMES, False)
        self.warnings: list[Problem] = []
        # The layout of the file's first sample when it is not Together's (byom.data._layouts), by its name.
        self.layout: str | None = None
        self.layout_seen = False

    def layout_of(self, lineno: int, layout: str | None) -> None:
        """Note the layout of a sample (None: one of Together's formats); LineError when the file mixes them."""
        if not self.layout_seen:
            self.layout, self.layout_seen = layout, True
            self.fmt_line = lineno
        elif layout != self.layout:
            raise LineError(
                "mixed_formats",
                None,
                f"this line is in the {layout or 'Together'} layout but line {self.fmt_line} is in the "
                f"{self.layout or 'Together'} layout.",
                "Use one layout for the whole file.",
            )

    def warn(self, line: int, kind: ProblemKind, field: str | None, message: str, fix: str) -> None:
        self.warnings.append(
            Problem(line=line, field=field, kind=kind, severity="warning", message=message, fix=fix)
        )

    # -- one sample ---------------------------------------------------------------------------
    def sample(self, lineno: int, obj: Any, *, converted: bool = False) -> None:
        """Check one parsed line (``converted``: a row byom.data._layouts converted); raise LineError for its first
        error, record warnings and flags."""
        if not isinstance(obj, dict):
            raise LineError(
                "not_object",
                None,
                f"expected a JSON object, got {type(obj).__name__} {quote(obj)}.",
                'Write one object per line, e.g. {"messages": [...]}.',
            )
        fmt = detect(obj, self.method)
        if not converted:
            self.layout_of(lineno, None)
        if self.fmt is None:
            self.fmt, self.fmt_line = fmt, lineno
        elif fmt != self.fmt:
            raise LineError(
                "mixed_formats",
                None,
                f"this line is in the {fmt} format but line {self.fmt_line} is {self.fmt}.",
                "Use one format for the whole file.",
            )
        allowed = set(FORMAT_KEYS[fmt]) | set(OPTIONAL_KEYS[fmt])
        extra = sorted(k for k in obj if k not in allowed)
        if extra:
            self.warn(
                lineno,
                "unknown_key",
                extra[0],
                f"extra key(s) {', '.join(quote(k) for k in extra[:5])} are ignored in training; the legacy "
                "together SDK (v1) check rejects them.",
                "Remove them to be safe.",
            )
        if "weight" in obj:
            self._sample_weight(obj["weight"])
        if fmt == "general":
            self._text(obj["text"])
        elif fmt == "conversation":
            if "tools" in obj:
                self._tools(obj["tools"], "tools")
            self._messages(obj["messages"], lineno, "messages", need_assistant=needs_assistant(self.purpose))
        elif fmt == "instruction":
            self._content(obj["prompt"], "prompt", "user", required=False)
            self._content(obj["completion"], "completion", "assistant", required=True)
        else:
            self._preference(obj, lineno)

    def _sample_weight(self, weight: Any) -> None:
        if (
            isinstance(weight, bool)
            or not isinstance(weight, (int, float))
            or not math.isfinite(weight)
            or weight < 0
        ):
            raise LineError(
                "bad_weight",
                "weight",
                f'sample "weight" must be a non-negative number, got {quote(weight)}.',
                "Use a number ≥ 0 (1 is the default; 0 skips the sample).",
            )
        self.flags["has_sample_weights"] = True

    def _text(self, text: Any) -> None:
        if not isinstance(text, str):
            raise LineError(
                "wrong_type", "text", f'"text" must be a string, got {type(text).__name__} {quote(text)}.', ""
            )
        if not text.strip():
            raise LineError(
                "empty_content", "text", '"text" is empty.', "Remove the line or give it some text."
            )

    def _tools(self, tools: Any, where: str) -> None:
        if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
            raise LineError(
                "wrong_type",
                where,
                f'"{where}" must be a list of tool objects, got {quote(tools)}.',
                'Give [{"type": "function", "function": {"name": ..., "parameters": {...}}}].',
            )
        self.flags["has_tools"] = True

    def _messages(
        self, messages: Any, lineno: int, where: str, *, need_assistant: bool
    ) -> list[dict[str, Any]]:
        if not isinstance(messages, list) or not messages:
            raise LineError(
                "wrong_type",
                where,
                f'"{where}" must be a non-empty list of messages, got {quote(messages)}.',
                'Give [{"role": "user", "content": ...}, {"role": "assistant", "content": ...}].',
            )
        images = 0
        prev_role: str | None = None
        for i, msg in enumerate(messages):
            at = f"{where}[{i}]"
            if not isinstance(msg, dict):
                raise LineError(
                    "wrong_type",
                    at,
                    f'{at} must be an object with "role" and "content", got {quote(msg)}.',
                    "",
                )
            role = msg.get("role")
            if role not in ROLES:
                kind: ProblemKind = "missing_key" if role is None else "bad_role"
                raise LineError(
                    kind, f"{at}.role", f"{at} has role {quote(role)}.", f"Use one of {', '.join(ROLES)}."
                )
            if i == 0 and role not in ("system", "user"):
                raise LineError(
                    "role_order",
                    f"{at}.role",
                    f"{where} must start with a system or user message, not {role}.",
                    "Put the user's turn (or a system prompt) first.",
                )
            extra = sorted(k for k in msg if k not in MESSAGE_KEYS)
            if extra:
                self.warn(
                    lineno,
                    "unknown_key",
                    f"{at}.{extra[0]}",
                    f"message key(s) {', '.join(quote(k) for k in extra[:5])} are ignored; the legacy together "
                    "SDK (v1) check accepts only role, content and weight.",
                    "Remove them to be safe.",
                )
            if "tool_calls" in msg:
                self._tool_calls(msg["tool_calls"], role, f"{at}.tool_calls")
            if role == "tool":
                self.flags["has_tools"] = True
            msg_images = 0
            if "content" not in msg or msg["content"] is None:
                # An assistant turn that only calls tools may omit its content.
                if not (role == "assistant" and msg.get("tool_calls")):
                    raise LineError(
                        "missing_key",
                        f"{at}.content",
                        f'{at} ({role}) has no "content".',
                        "Give every message a content string.",
                    )
            else:
                empty_ok = role in ("system", "tool") or (role == "assistant" and bool(msg.get("tool_calls")))
                msg_images = self._content(msg["content"], f"{at}.content", role, required=not empty_ok)
                images += msg_images
            if "weight" in msg:
                weight = msg["weight"]
                if isinstance(weight, bool) or weight not in (0, 1):
                    raise LineError(
                        "bad_weight",
                        f"{at}.weight",
                        f'{at}: "weight" must be 0 or 1, got {quote(weight)}.',
                        "Use 0 (no loss on this message) or 1.",
                    )
                self.flags["has_message_weights"] = True
                if weight and msg_images:
                    raise LineError(
                        "image",
                        f"{at}.weight",
                        f"{at}: a message with images cannot have a non-zero weight.",
                        'Set "weight": 0 on it.',
                    )
            for key in ("reasoning", "reasoning_content"):
                if key in msg:
                    if role != "assistant" or not isinstance(msg[key], str):
                        raise LineError(
                            "wrong_type",
                            f"{at}.{key}",
                            f'{at}: "{key}" must be a string on an assistant message.',
                            "",
                        )
                    self.flags["has_reasoning"] = True
            if prev_role is not None and role == prev_role and role != "tool":
                self.warn(
                    lineno,
                    "role_order",
                    f"{at}.role",
                    f"two consecutive {role} messages ({at}). Current docs accept it, but the legacy together SDK "
                    "(v1) check requires user/assistant turns to alternate.",
                    "Merge the two turns if you can.",
                )
            prev_role = role
        if images > MAX_IMAGES:
            raise LineError(
                "image",
                where,
                f"{images} images in one example; at most {MAX_IMAGES} are allowed.",
                "Split the example.",
            )
        if need_assistant and not any(m.get("role") == "assistant" for m in messages):
            raise LineError(
                "no_assistant",
                where,
                f'"{where}" has no assistant message, so there is nothing to learn.',
                "Add the assistant reply.",
            )
        return messages

    def _tool_calls(self, calls: Any, role: str, where: str) -> None:
        if role != "assistant" or not isinstance(calls, list):
            raise LineError("wrong_type", where, f'"{where}" must be a list on an assistant message.', "")
        for j, call in enumerate(calls):
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise LineError(
                    "wrong_type",
                    f"{where}[{j}]",
                    f'{where}[{j}] must be {{"type": "function", "function": {{"name": ..., "arguments": ...}}}}, '
                    f"got {quote(call)}.",
                    "",
                )
        self.flags["has_tools"] = True
        if len(calls) > 1:
            self.flags["has_parallel_tool_calls"] = True

    def _content(self, content: Any, where: str, role: str, *, required: bool) -> int:
        """Check a content value (string or multimodal parts); return how many images it holds."""
        if isinstance(content, str):
            if required and not content.strip():
                raise LineError("empty_content", where, f"{where} is empty.", _fill(role, where))
            return 0
        if not isinstance(content, list) or not content:
            raise LineError(
                "wrong_type",
                where,
                f"{where} must be a string or a list of content parts, got {type(content).__name__} {quote(content)}.",
                "",
            )
        images = 0
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            at = f"{where}[{j}]"
            if kind == "text":
                if not isinstance(part.get("text"), str):
                    raise LineError("wrong_type", at, f'{at} is a text part without a "text" string.', "")
            elif kind == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else None
                if role != "user":
                    raise LineError(
                        "image",
                        at,
                        f"{at}: images are allowed only in user messages.",
                        "Move it to a user turn.",
                    )
                if not isinstance(url, str) or not url.startswith(_IMAGE_PREFIXES):
                    raise LineError(
                        "image",
                        f"{at}.image_url.url",
                        f"{at}: image_url.url must be a data URL (data:image/jpeg|png|webp;base64,...), got {quote(url)}.",
                        "Embed the image as base64.",
                    )
                if len(url) * 3 // 4 > MAX_IMAGE_BYTES:
                    raise LineError("image", at, f"{at}: image larger than 10 MB.", "Resize it.")
                images += 1
                self.flags["is_multimodal"] = True
            else:
                raise LineError(
                    "wrong_type",
                    at,
                    f'{at} must be {{"type": "text", "text": ...}} or {{"type": "image_url", "image_url": {{"url": ...}}}}, '
                    f"got {quote(part)}.",
                    "",
                )
        return images

    def _preference(self, obj: dict[str, Any], lineno: int) -> None:
        inp = obj["input"]
        if not isinstance(inp, dict) or "messages" not in inp:
            raise LineError(
                "wrong_type",
                "input",
                f'"input" must be an object with "messages", got {quote(inp)}.',
                'Give {"messages": [...]}.',
            )
        if "tools" in inp:
            self._tools(inp["tools"], "input.tools")
        msgs = self._messages(inp["messages"], lineno, "input.messages", need_assistant=False)
        if msgs[-1].get("role") == "assistant":
            raise LineError(
                "preference",
                f"input.messages[{len(msgs) - 1}]",
                "the last message of input.messages must not be from the assistant.",
                "End the input with the user turn the outputs answer.",
            )
        for key in ("preferred_output", "non_preferred_output"):
            out = obj[key]
            if not isinstance(out, list) or len(out) != 1:
                raise LineError(
                    "preference",
                    key,
                    f'"{key}" must be a list with exactly one assistant message, got {quote(out)}.',
                    "",
                )
            msg = out[0]
            if not isinstance(msg, dict) or msg.get("role") != "assistant" or "content" not in msg:
                raise LineError(
                    "preference",
                    f"{key}[0]",
                    f'"{key}[0]" must be {{"role": "assistant", "content": ...}}, got {quote(msg)}.',
                    "",
                )
            self._content(msg["content"], f"{key}[0].content", "assistant", required=True)
            if any(k in msg for k in ("reasoning", "reasoning_content")):
                self.flags["has_reasoning"] = True
