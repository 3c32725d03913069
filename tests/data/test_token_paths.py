"""The fast token statistics give exactly the numbers of the plain transformers route, on every data format.

The fast route: ``load_tokenizer`` loads a local folder with ``TokenizersBackend`` itself (no AutoTokenizer, no
torch), ``prefix_renderer`` renders with the compiled template, and rows are tokenized in batches with the trained
mask taken from offsets in slices. The plain route: ``AutoTokenizer``, ``apply_chat_template`` for every prefix,
one row at a time, the mask token by token.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from byom.data import encode_row, load_tokenizer, preview, token_stats
from byom.data._template import prefix_renderer
from byom.data._tokens import DIRECT_MODEL_TYPES, IGNORE, _labels, preview_pair

TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
    }
]
CONVERSATIONS = [
    {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Zürich?"},
            {"role": "assistant", "content": "Cold. 東京 is warm.", "weight": 1},
            {"role": "user", "content": "And Paris?", "name": None},  # None-valued keys are dropped
            {"role": "assistant", "content": "Mild.", "reasoning": "Guess.", "weight": 0},
            {"role": "user", "content": "Thanks."},
            {"role": "assistant", "content": "You are welcome."},
        ],
        "tools": TOOLS,
    },
    {"messages": [{"role": "user", "content": "word " * 80}, {"role": "assistant", "content": "ok " * 30}]},
    {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "weight": 0},
]
ROWS = {
    "conversation": CONVERSATIONS,
    "instruction": [
        {"prompt": "What do bees make?", "completion": " Honey."},
        {"prompt": "Q " * 60, "completion": "A"},
    ],
    "general": [{"text": "The sky is blue."}, {"text": "word " * 90}],
    "preference": [
        {
            "input": {"messages": [{"role": "user", "content": "Hi " * 20}], "tools": TOOLS},
            "preferred_output": [{"role": "assistant", "content": "Hello!"}],
            "non_preferred_output": [{"role": "assistant", "content": "Go away " * 10}],
        }
    ],
}


@pytest.fixture(scope="module")
def plain(tiny_model: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture(scope="module")
def fast(tiny_model: Path) -> Any:
    return load_tokenizer(tiny_model)


def test_a_listed_model_folder_loads_without_auto_tokenizer(fast: Any, plain: Any) -> None:
    assert type(fast).__name__ == type(plain).__name__ == "TokenizersBackend"
    assert fast.special_tokens_map == plain.special_tokens_map and fast.chat_template == plain.chat_template


@pytest.mark.parametrize("model_type", sorted(DIRECT_MODEL_TYPES))
def test_auto_tokenizer_picks_the_same_class_for_every_listed_model_type(
    tiny_model: Path, tmp_path: Path, model_type: str
) -> None:
    from transformers import AutoTokenizer

    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(tiny_model / name, tmp_path / name)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": model_type}))
    assert type(AutoTokenizer.from_pretrained(tmp_path)).__name__ == "TokenizersBackend"


@pytest.mark.parametrize("fmt", sorted(ROWS))
@pytest.mark.parametrize("max_seq_length", [1024, 24])
@pytest.mark.parametrize("train_on_inputs", ["auto", True])
def test_both_routes_count_the_same(
    fast: Any, plain: Any, fmt: str, max_seq_length: int, train_on_inputs: Any
) -> None:
    rows = ROWS[fmt] * 3
    assert token_stats(
        fast, rows, max_seq_length=max_seq_length, train_on_inputs=train_on_inputs
    ) == token_stats(plain, rows, max_seq_length=max_seq_length, train_on_inputs=train_on_inputs)
    if fmt == "preference":
        assert preview_pair(fast, rows[0], max_seq_length=max_seq_length) == preview_pair(
            plain, rows[0], max_seq_length=max_seq_length
        )
    else:
        assert preview(rows, fast, max_seq_length=max_seq_length, train_on_inputs=train_on_inputs) == preview(
            rows, plain, max_seq_length=max_seq_length, train_on_inputs=train_on_inputs
        )


@pytest.mark.parametrize("row", CONVERSATIONS + [{"messages": ROWS["preference"][0]["input"]["messages"]}])
def test_prefix_renders_are_apply_chat_template(plain: Any, row: dict[str, Any]) -> None:
    messages, tools = row["messages"], row.get("tools")
    render = prefix_renderer(plain, messages, tools)
    for k in range(1, len(messages) + 1):
        for gen in (False, True):
            want = plain.apply_chat_template(
                messages[:k], tools=tools, tokenize=False, add_generation_prompt=gen
            )
            assert render(k, gen) == want


def test_the_batched_statistics_are_the_row_by_row_sums(fast: Any) -> None:
    rows = CONVERSATIONS * 100  # more than one batch
    stats = token_stats(fast, rows, max_seq_length=4096)
    encoded = [encode_row(fast, row) for row in rows]
    assert stats.total_tokens == sum(len(e.input_ids) for e in encoded)
    assert stats.trained_tokens == sum(
        sum(1 for x in e.labels if x != IGNORE)
        for e, row in zip(encoded, rows, strict=True)
        if row.get("weight", 1)
    )


def _rule(ids: list[int], offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[int]:
    return [
        i if b > a and any(s <= a < e for s, e in spans) else IGNORE
        for i, (a, b) in zip(ids, offsets, strict=True)
    ]


@pytest.mark.parametrize(
    "offsets",
    [
        [(0, 2), (2, 5), (5, 6), (6, 9), (9, 12)],  # the usual: in order, none empty
        [(0, 2), (2, 2), (2, 6), (6, 9), (9, 12)],  # an empty token inside a span
        [(0, 2), (5, 6), (2, 5), (6, 9), (9, 12)],  # out of text order
        [],
    ],
)
def test_the_mask_from_offsets_is_the_token_rule(offsets: list[tuple[int, int]]) -> None:
    ids = list(range(100, 100 + len(offsets)))
    for spans in ([(2, 6)], [(0, 3), (5, 12)], [(4, 4)], [(6, 9), (0, 2)], []):
        assert _labels(ids, offsets, spans) == _rule(ids, offsets, spans)


@pytest.mark.slow
def test_token_statistics_from_a_model_folder_never_import_torch(tiny_model: Path, tmp_path: Path) -> None:
    """AutoTokenizer's registry imports torch (about 2 s of a cold check); a listed folder needs neither."""
    data = tmp_path / "t.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in CONVERSATIONS) + "\n")
    code = (
        "import sys\nfrom pathlib import Path\nfrom byom.data import iter_rows, load_tokenizer, token_stats\n"
        f"token_stats(load_tokenizer(Path({str(tiny_model)!r})), iter_rows(Path({str(data)!r})), max_seq_length=64)\n"
        "print(sorted(m for m in ('torch', 'transformers.models.auto') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_a_folder_of_another_model_type_still_loads(tiny_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    shutil.copytree(tiny_model, folder)
    (folder / "config.json").write_text(
        json.dumps({"model_type": "qwen2"})
    )  # AutoTokenizer picks Qwen2Tokenizer
    assert type(load_tokenizer(folder)).__name__ == "Qwen2Tokenizer"
