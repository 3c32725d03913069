"""The prompts a judged evaluation asks: one ``{"prompt", "completion"}`` row per row of the user's data.

Together renders ``input_template`` with Jinja over each row's columns and the local engine with plain
``{{column}}`` substitution; a ``prompt`` column is what both read the same way. So a conversation file (or an
instruction one, or preference pairs: their chosen answer) becomes an instruction-format copy: the prompt is the last user turn before the final assistant
answer, the completion that answer (kept as the reference). At most ``MAX_JUDGED_ROWS`` rows: the judge's price
grows with every row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from byom.data import iter_rows
from byom.errors import PreflightError
from byom.storage import private_dir

__all__ = ["MAX_JUDGED_ROWS", "prompt_file"]

MAX_JUDGED_ROWS = 200


def _prompt_of(row: dict[str, Any]) -> dict[str, str] | None:
    messages = row.get("messages")
    source, preferred = row.get("input"), row.get("preferred_output")
    if isinstance(source, dict) and isinstance(source.get("messages"), list) and isinstance(preferred, list):
        # A preference pair: its conversation so far, the chosen answer kept as the reference.
        messages = [*source["messages"], *preferred]
    if isinstance(messages, list):
        turns = [m for m in messages if isinstance(m, dict) and isinstance(m.get("content"), str)]
        last = max((i for i, m in enumerate(turns) if m.get("role") == "assistant"), default=None)
        if last is None:
            return None
        users = [m for m in turns[:last] if m.get("role") == "user"]
        return {"prompt": users[-1]["content"], "completion": turns[last]["content"]} if users else None
    prompt, completion = row.get("prompt"), row.get("completion")
    if isinstance(prompt, str) and isinstance(completion, str):
        return {"prompt": prompt, "completion": completion}
    return None


def prompt_file(source: Path, cache_dir: Path) -> Path:
    """The instruction-format prompts of ``source`` (a checked .jsonl file), written once per content under the
    cache directory (private); raises ``PreflightError`` when no row has a prompt and an answer."""
    if source.suffix.lower() != ".jsonl":
        raise PreflightError(
            f"A judged evaluation reads its prompts from a .jsonl file, and {source.name} is not one. Pass the "
            "validation data as .jsonl (conversation or instruction rows)."
        )
    from byom.together import file_checksum  # the upload module loads on the first judged evaluation

    out = private_dir(cache_dir / "evaluations") / f"prompts-{file_checksum(source)[:16]}.jsonl"
    rows = []
    for row in iter_rows(source):
        found = _prompt_of(row)
        if found is not None:
            rows.append(found)
        if len(rows) >= MAX_JUDGED_ROWS:
            break
    if not rows:
        raise PreflightError(
            f"No row of {source.name} has a user prompt followed by an assistant answer, so there is nothing to ask "
            "the models. Use conversation rows (messages) or instruction rows (prompt, completion)."
        )
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return out
