"""The fast token statistics give exactly the numbers of the plain transformers route, on every data format.

Three routes, one answer. The reference: ``AutoTokenizer``, ``apply_chat_template`` for every prefix, the mask
token by token. ``load_tokenizer`` (the trainer's): a local folder loaded with ``TokenizersBackend`` itself (no
AutoTokenizer, no torch), ``prefix_renderer`` rendering with transformers' compiled template, rows tokenized in
batches, the mask from offsets in slices. ``load_counting_tokenizer`` (the data check's): a ``PlainTokenizer``
(no transformers at all), jinja2 through ``byom.data._jinja``, the mask read at span edges.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from byom.data import encode_row, load_counting_tokenizer, load_tokenizer, preview, token_stats
from byom.data._plain import PlainTokenizer
from byom.data._template import prefix_renderer
from byom.data._tokens import (
    DIRECT_MODEL_TYPES,
    IGNORE,
    _labels,
    _labels_at_edges,
    encode_preference,
    preview_pair,
)

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
def auto(tiny_model: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture(scope="module")
def fast(tiny_model: Path) -> Any:
    return load_tokenizer(tiny_model)


@pytest.fixture(scope="module")
def counting(tiny_model: Path) -> Any:
    return load_counting_tokenizer(tiny_model)


def test_a_listed_model_folder_loads_without_auto_tokenizer(fast: Any, auto: Any) -> None:
    assert type(fast).__name__ == type(auto).__name__ == "TokenizersBackend"
    assert fast.special_tokens_map == auto.special_tokens_map and fast.chat_template == auto.chat_template


def test_the_data_check_reads_a_listed_folder_without_transformers(counting: Any, auto: Any) -> None:
    assert isinstance(counting, PlainTokenizer) and counting.offsets_in_order
    for name in ("special_tokens_map", "chat_template", "eos_token", "eos_token_id", "pad_token_id"):
        assert getattr(counting, name) == getattr(auto, name), name
    assert counting.model_max_length == auto.model_max_length
    assert counting.convert_ids_to_tokens(list(range(40))) == auto.convert_ids_to_tokens(list(range(40)))


@pytest.mark.parametrize("model_type", sorted(DIRECT_MODEL_TYPES))
def test_auto_tokenizer_picks_the_same_class_for_every_listed_model_type(
    tiny_model: Path, tmp_path: Path, model_type: str
) -> None:
    from transformers import AutoTokenizer

    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(tiny_model / name, tmp_path / name)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": model_type}))
    assert type(AutoTokenizer.from_pretrained(tmp_path)).__name__ == "TokenizersBackend"


def _same_numbers(tokenizer: Any, reference: Any, rows: list[dict[str, Any]], **options: Any) -> None:
    """Statistics, previews and each row's ids and labels: the same from ``tokenizer`` as from ``reference``."""
    assert token_stats(tokenizer, rows, **options) == token_stats(reference, rows, **options)
    limit = options["max_seq_length"]
    for row in rows:
        if "preferred_output" in row:
            assert preview_pair(tokenizer, row, max_seq_length=limit) == preview_pair(
                reference, row, max_seq_length=limit
            )
            assert encode_preference(tokenizer, row) == encode_preference(reference, row)
        else:
            assert preview([row], tokenizer, **options) == preview([row], reference, **options)
            train = options.get("train_on_inputs", "auto")
            assert encode_row(tokenizer, row, train_on_inputs=train) == encode_row(
                reference, row, train_on_inputs=train
            )


@pytest.mark.parametrize("route", ["fast", "counting"])
@pytest.mark.parametrize("fmt", sorted(ROWS))
@pytest.mark.parametrize("max_seq_length", [1024, 24])
@pytest.mark.parametrize("train_on_inputs", ["auto", True])
def test_every_route_counts_as_transformers(
    request: pytest.FixtureRequest, auto: Any, route: str, fmt: str, max_seq_length: int, train_on_inputs: Any
) -> None:
    rows = ROWS[fmt] * 3
    tokenizer = request.getfixturevalue(route)
    _same_numbers(tokenizer, auto, rows, max_seq_length=max_seq_length, train_on_inputs=train_on_inputs)


def _renders_as_apply_chat_template(tokenizer: Any, reference: Any, row: dict[str, Any]) -> None:
    messages, tools = row["messages"], row.get("tools")
    render = prefix_renderer(tokenizer, messages, tools)
    for k in range(1, len(messages) + 1):
        for gen in (False, True):
            want = reference.apply_chat_template(
                messages[:k], tools=tools, tokenize=False, add_generation_prompt=gen
            )
            assert render(k, gen) == want


@pytest.mark.parametrize("route", ["auto", "counting"])
@pytest.mark.parametrize("row", CONVERSATIONS + [{"messages": ROWS["preference"][0]["input"]["messages"]}])
def test_prefix_renders_are_apply_chat_template(
    request: pytest.FixtureRequest, auto: Any, route: str, row: dict[str, Any]
) -> None:
    _renders_as_apply_chat_template(request.getfixturevalue(route), auto, row)


def test_a_row_the_copied_sandbox_does_not_cover_is_rendered_by_transformers(
    counting: Any, auto: Any
) -> None:
    # tools as an object, not a list of schemas: transformers iterates it (no keys: no tools). Not JSON-file
    # data the checker passes, but the plain route must still answer as transformers.
    _renders_as_apply_chat_template(counting, auto, {"messages": CONVERSATIONS[1]["messages"], "tools": {}})


@pytest.mark.parametrize("route", ["fast", "counting"])
def test_the_batched_statistics_are_the_row_by_row_sums(request: pytest.FixtureRequest, route: str) -> None:
    tokenizer = request.getfixturevalue(route)
    rows = CONVERSATIONS * 100  # more than one batch
    stats = token_stats(tokenizer, rows, max_seq_length=4096)
    encoded = [encode_row(tokenizer, row) for row in rows]
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


EDGE_TEXT = "<|im_start|>user\nWeather in Zürich?  東京 is warm.<|eos|>\n  spaces,\ttabs\n\n"


def _every_span(length: int) -> list[list[tuple[int, int]]]:
    one = [[(s, e)] for s in range(length + 1) for e in range(s, length + 2)]
    return one + [[(0, 3), (9, 20)], [(30, 40), (2, 5)], [(5, 5), (7, length)]]


def test_the_mask_read_at_span_edges_is_the_token_rule(counting: Any) -> None:
    """Every span of a text with multi-byte characters (a byte-level BPE splits them: tokens that share offsets),
    runs of spaces, tabs, special tokens and the text's end."""
    enc = counting.encode_batch([EDGE_TEXT])[0]
    ids, offsets = enc.ids, enc.offsets
    assert len(set(offsets)) < len(offsets)  # a character split over tokens
    for spans in _every_span(len(EDGE_TEXT)):
        assert _labels_at_edges(enc, ids, spans, len(EDGE_TEXT)) == _rule(ids, offsets, spans), spans


def test_the_mask_at_span_edges_falls_back_where_tokens_leave_characters_out() -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    backend = Tokenizer(models.WordLevel({"a": 0, "bb": 1, "[UNK]": 2}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()  # spaces belong to no token
    text = "a  bb a\tcc  a"
    enc = backend.encode(text)
    assert enc.char_to_token(1) is None
    for spans in _every_span(len(text)):
        assert _labels_at_edges(enc, enc.ids, spans, len(text)) == _rule(enc.ids, enc.offsets, spans), spans


SANDBOX_TEMPLATE = (  # what transformers' sandbox offers templates: each must render the same in the copy
    "{%- set ns = namespace(turns=0) -%}{{- bos_token -}}"
    "{%- if tools %}{{ '<tools>' + tools | tojson(indent=1) + '</tools>\n' }}{% endif -%}"
    "{%- for message in messages -%}"
    "{%- set ns.turns = ns.turns + 1 -%}{%- set meta = dict(role=message['role'], n=ns.turns) -%}"
    "{%- if message['role'] == 'system' and not loop.first %}{{ raise_exception('system comes first') }}{% endif %}"
    "<|im_start|>{{ meta.role }}\n    {% if message.name is defined %}({{ message.name }}){% endif %}\n"
    "{%- if message.reasoning_content is defined %}<think>{{ message.reasoning_content }}</think>{% endif %}\n"
    "{%- if message['role'] == 'assistant' %}"
    "    {% generation %}{{- message['content'] + eos_token }}{% endgeneration %}\n"
    "{%- else %}\n  {{ message['content'] + eos_token }}\n{% endif %}"
    "{%- if loop.index > 40 %}{% break %}{% endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant {{ pad_token }}\n{% endif %}"
)


def _outcome(compiled: Any) -> tuple[str, str]:
    try:
        return "text", compiled.render(messages=[{"role": "user", "content": "hi"}])
    except Exception as exc:  # noqa: BLE001 - the refusal itself is what is compared
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",  # attribute access into CPython internals
        "{{ dict.__init__ }}{{ dict.fromkeys(['a'], 1) }}{{ dict(a=1) }}",
        "{% set ns = namespace(_hidden=1) %}",  # an underscore name on a namespace
        "{% set ns = namespace(a=1) %}{% set ns._hidden = 1 %}{{ ns.a }}",
        "{{ messages.append(1) }}",  # the data is immutable: one render cannot change the next
        "{{ messages[0].update({'content': 'x'}) }}",
        "{{ raise_exception('a template refusal') }}",
    ],
)
def test_the_copied_sandbox_refuses_what_transformers_refuses(template: str) -> None:
    """Chat templates are untrusted code: the copy must refuse each escape as transformers' sandbox does."""
    from transformers.utils.chat_template_utils import _cached_compile_jinja_template

    from byom.data._jinja import compile_template

    ours, theirs = _outcome(compile_template(template)), _outcome(_cached_compile_jinja_template(template))
    assert ours == theirs
    assert ours[0] != "text" or "dict" in template  # each escape is refused, not rendered


def _edit(name: str, edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    """A folder variant: the JSON file ``name`` of the model folder, changed by ``edit``."""

    def apply(folder: Path) -> None:
        path = folder / name
        data = json.loads(path.read_text())
        edit(data)
        path.write_text(json.dumps(data))

    return apply


def _config(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    return _edit("tokenizer_config.json", edit)


def _tokenizer_json(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    return _edit("tokenizer.json", edit)


def _template_in_config(folder: Path) -> None:
    template = (folder / "chat_template.jinja").read_text()
    (folder / "chat_template.jinja").unlink()
    _config(lambda c: c.update(chat_template=template))(folder)


def _added_tokens_decoder(folder: Path) -> None:
    added = json.loads((folder / "tokenizer.json").read_text())["added_tokens"]
    decoder = {str(t.pop("id")): t for t in added}
    _config(lambda c: c.update(added_tokens_decoder=decoder))(folder)


def _named_templates(folder: Path) -> None:
    (folder / "chat_template.jinja").unlink()
    _config(lambda c: c.update(chat_template=[{"name": "default", "template": "x"}]))(folder)


def _trim_offsets(data: dict[str, Any]) -> None:
    data["post_processor"]["trim_offsets"] = True


def _loose_eos(data: dict[str, Any]) -> None:
    data["added_tokens"][2]["lstrip"] = True


# Folders the plain route reads itself: each must give transformers' numbers.
PLAIN_FOLDERS: dict[str, Callable[[Path], None]] = {
    "as saved": lambda folder: None,
    "no pad token (eos pads)": _config(lambda c: c.pop("pad_token")),
    "no post-processor": _tokenizer_json(lambda d: d.update(post_processor=None)),
    "offsets trimmed (mask from every offset)": _tokenizer_json(_trim_offsets),
    "the template in tokenizer_config.json": _template_in_config,
    "added_tokens_decoder repeating tokenizer.json": _added_tokens_decoder,
    "clean-up asked of a BPE (transformers skips it)": _config(
        lambda c: c.update(clean_up_tokenization_spaces=True)
    ),
    "every sandbox feature in the template": lambda f: (f / "chat_template.jinja").write_text(
        SANDBOX_TEMPLATE
    ),
}
# Folders it leaves to transformers: something it does not reproduce.
TRANSFORMERS_FOLDERS: dict[str, Callable[[Path], None]] = {
    "add_bos_token": _config(lambda c: c.update(add_bos_token=True)),
    "a key it does not read": _config(lambda c: c.update(legacy=False)),
    "a special token that is no added token": _config(lambda c: c.update(unk_token="<unk>")),
    "a special token written as an object": _config(
        lambda c: c.update(eos_token={"__type": "AddedToken", "content": "<|eos|>", "special": True})
    ),
    "an added token transformers would rewrite": _tokenizer_json(_loose_eos),
    "truncation in tokenizer.json": _tokenizer_json(
        lambda d: d.update(
            truncation={"direction": "Right", "max_length": 8, "strategy": "LongestFirst", "stride": 0}
        )
    ),
    "legacy special_tokens_map.json": lambda f: (f / "special_tokens_map.json").write_text("{}"),
    "named templates (no chat_template.jinja)": _named_templates,
}


def _folder(tiny_model: Path, tmp_path: Path, edit: Callable[[Path], None]) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "config.json"):
        shutil.copy(tiny_model / name, folder / name)
    edit(folder)
    return folder


@pytest.mark.parametrize("name", sorted(PLAIN_FOLDERS))
def test_the_plain_route_counts_as_transformers_on_every_folder_it_reads(
    tiny_model: Path, tmp_path: Path, name: str
) -> None:
    folder = _folder(tiny_model, tmp_path, PLAIN_FOLDERS[name])
    counting, reference = load_counting_tokenizer(folder), load_tokenizer(folder)
    assert isinstance(counting, PlainTokenizer)
    assert counting.special_tokens_map == reference.special_tokens_map
    rows = [row for fmt in sorted(ROWS) for row in ROWS[fmt]] + [{"text": EDGE_TEXT}]
    for limit in (1024, 24):
        _same_numbers(counting, reference, rows, max_seq_length=limit, train_on_inputs="auto")
    for row in CONVERSATIONS:
        _renders_as_apply_chat_template(counting, reference, row)


@pytest.mark.parametrize("name", sorted(TRANSFORMERS_FOLDERS))
def test_a_folder_the_plain_route_does_not_reproduce_loads_with_transformers(
    tiny_model: Path, tmp_path: Path, name: str
) -> None:
    folder = _folder(tiny_model, tmp_path, TRANSFORMERS_FOLDERS[name])
    assert type(load_counting_tokenizer(folder)).__name__ == "TokenizersBackend"


@pytest.mark.slow
def test_a_cold_check_data_with_a_model_folder_never_imports_transformers(
    tiny_model: Path, tmp_path: Path
) -> None:
    """Importing transformers cost more than the whole count of a 2,000-row file (bench/token_stats.py)."""
    data = tmp_path / "t.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in CONVERSATIONS) + "\n")
    code = (
        "import sys\nfrom byom.cli import main\n"
        f"main(['check-data', {str(data)!r}, '--model', {str(tiny_model)!r}, '--json'])\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr
    assert json.loads(done.stdout)["token_stats"]["samples"] == len(CONVERSATIONS)


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
