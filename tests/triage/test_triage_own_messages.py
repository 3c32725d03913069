"""explain_error knows every message byom itself emits: each one is categorised, never ``unknown``.

The messages are enumerated from the source, not listed by hand, so a new error is covered (or fails here)
the day it is written: every construction of a ``ByomError`` subclass (the tools' errors, the engine's error
bodies: ``InvalidRequest``, ``NotFound``, ``Unauthorized``, ...) and of the tools' own ``ToolError``, every
data-checker problem (``LineError``'s message) and every FAIL finding of ``inspect_hf_model`` (rendered as
the report shows it). An f-string's fields are filled with a placeholder (``7``); a message held in a local
variable is followed to its assignments in the same function.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import byom.errors
from byom.triage import explain_text

SRC = Path(__file__).resolve().parents[2] / "src" / "byom"
_FILL = "7"
_OWN = {
    name
    for name in dir(byom.errors)
    if isinstance(getattr(byom.errors, name), type)
    and issubclass(getattr(byom.errors, name), byom.errors.ByomError)
}
_OWN.add("ToolError")  # what a tool refuses with itself (argument checks, confirm tokens, unknown jobs)
# The data checker's problems: LineError(kind, field, message, fix) -> the message is the third argument.
_MESSAGE_ARG = {"LineError": 2}


def _texts(node: ast.expr, assigned: dict[str, list[ast.expr]], depth: int = 0) -> list[str]:
    """Every text ``node`` can render to (both branches of a conditional), fields filled with _FILL."""
    if depth > 4:
        return []
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        parts = [[v.value] if isinstance(v, ast.Constant) else [_FILL] for v in node.values]
        return ["".join(str(p[0]) for p in parts)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _texts(node.left, assigned, depth + 1), _texts(node.right, assigned, depth + 1)
        return [a + b for a in left for b in right] if left and right else []
    if isinstance(node, ast.IfExp):
        return _texts(node.body, assigned, depth + 1) + _texts(node.orelse, assigned, depth + 1)
    if isinstance(node, ast.Name):
        return [t for value in assigned.get(node.id, []) for t in _texts(value, assigned, depth + 1)]
    return []


def _assignments(function: ast.AST) -> dict[str, list[ast.expr]]:
    out: dict[str, list[ast.expr]] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out.setdefault(target.id, []).append(node.value)
        elif (
            isinstance(node, ast.AugAssign | ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.value
        ):
            out.setdefault(node.target.id, []).append(node.value)
    return out


def _called(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _messages() -> Iterator[tuple[str, str]]:
    """(where, text) for every message byom constructs."""
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where_base = path.relative_to(SRC.parent).as_posix()
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        owner = {id(inner): f for f in functions for inner in ast.walk(f)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _called(node)
            scope = owner.get(id(node))
            assigned = _assignments(scope) if scope is not None else {}
            if name in _OWN or name in _MESSAGE_ARG:
                index = _MESSAGE_ARG.get(name or "", 0)
                if len(node.args) > index:
                    for i, text in enumerate(_texts(node.args[index], assigned)):
                        yield f"{where_base}:{node.lineno}:{i}", text
            elif name == "add" and len(node.args) >= 3 and "fail" in ast.unparse(node.args[1]):
                check = node.args[0].value if isinstance(node.args[0], ast.Constant) else _FILL
                for i, text in enumerate(_texts(node.args[2], assigned)):
                    yield f"{where_base}:{node.lineno}:{i}", f"[FAIL] {check}: {text}"


MESSAGES = dict(_messages())


def _says_something(text: str) -> bool:
    """Whether the message's own words (not its filled-in fields) are three words or more: "{where} is
    empty." says nothing until the field names the place (test_a_data_problem_names_its_place covers it)."""
    return len(text.replace(_FILL, " ").split()) >= 3


def test_the_enumeration_finds_the_messages_it_should() -> None:
    texts = list(MESSAGES.values())
    assert len(texts) > 250  # every subsystem's errors, not a handful
    assert any("is truncated: its data ends at byte" in t for t in texts)  # hub/_safetensors.py
    assert any(t.startswith("Invalid API key.") for t in texts)  # engine/auth.py (a conditional message)
    assert any(t.startswith("[FAIL] tokenizer:") for t in texts)  # hub/_analyze.py findings
    assert any("must start with a system or user message" in t for t in texts)  # data/_rules.py


@pytest.mark.parametrize("where", sorted(w for w, t in MESSAGES.items() if _says_something(t)))
def test_every_message_byom_emits_is_categorised(where: str) -> None:
    explanation = explain_text(MESSAGES[where])
    assert explanation.category != "unknown", MESSAGES[where]


def test_the_damaged_weights_message_is_a_damaged_checkpoint_with_no_retry_and_no_job() -> None:
    text = (
        "model.safetensors is truncated: tensor model.layers.3.mlp.up_proj.weight ends at data byte 283392, "
        "but the file holds only 265037. Re-download or re-save the file."
    )
    explanation = explain_text(text)
    assert explanation.category == "checkpoint_corrupt" and not explanation.retryable
    advice = " ".join(explanation.fixes).lower()
    assert "retry" not in advice and "job id" not in advice and "support" not in advice
    assert "size" in advice  # how to verify a new copy


def test_a_data_problem_names_its_place() -> None:
    assert explain_text("Line 4: messages[1].content is empty.").category == "data_format"
    assert explain_text("messages[2] has role 'bot'.").category == "data_format"
