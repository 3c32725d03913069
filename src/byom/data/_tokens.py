"""Rows → token ids and loss labels (-100 = no loss): the one implementation the trainer, token statistics
and the loss preview share. Two loaders: ``load_tokenizer`` (transformers' tokenizer: the trainer, serving) and
``load_counting_tokenizer`` (the data check: a ``PlainTokenizer`` where a folder allows, no transformers import).

Masking follows Together's meaning of ``train_on_inputs`` (ref together-api.md §3.4): "auto" trains on
assistant turns (conversation) or the completion (instruction) and on everything for plain text; a
message ``weight`` (0/1) overrides its role's default.
"""

from __future__ import annotations

import json
import math
import operator
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from byom.contained import vetted_copy
from byom.data._plain import PlainTokenizer, plain_tokenizer
from byom.data._template import Render, prefix_renderer
from byom.errors import ChatTemplateError, HubError, TrainingError, UnsafeModelFile
from byom.untrusted import quote

__all__ = [
    "IGNORE",
    "STATS_ROWS",
    "Encoded",
    "PreviewRow",
    "RowPreview",
    "TokenStats",
    "TrainOnInputs",
    "Unrenderable",
    "encode_preference",
    "encode_row",
    "file_token_stats",
    "iter_rows",
    "load_counting_tokenizer",
    "load_model_config",
    "load_tokenizer",
    "preview",
    "preview_pair",
    "preview_row",
    "require_template",
    "sample_lines",
    "token_stats",
]

IGNORE = -100
TrainOnInputs = bool | Literal["auto"]
SPAN_OPEN, SPAN_CLOSE = "⟦", "⟧"  # marks trained text in RowPreview.rendered
_BATCH_ROWS = 256  # rows rendered, then tokenized in one call: enough for every core, little memory


@dataclass
class Encoded:
    """One row, rendered and tokenized, before truncation."""

    input_ids: list[int]
    labels: list[int]
    notes: list[str] = field(default_factory=list)  # what the chat template did to the row


def _train_inputs(train_on_inputs: TrainOnInputs) -> bool:
    return train_on_inputs is True


def _local(model: str | Path) -> Path | None:
    """The local path ``model`` names (``~`` expanded), or None for a Hub id."""
    path = Path(model).expanduser()
    if isinstance(model, Path) or str(model).startswith(("/", "~", ".")) or path.exists():
        return path
    return None


def _names_stay_inside(copy: Path, shown: Path) -> None:
    """Refuse a tokenizer_config.json whose ``fast_tokenizer_files`` name a path, not a file of the directory:
    transformers joins that name to the directory, so ``../../x/tokenizer.4.0.json`` would be read from outside."""
    config = copy / "tokenizer_config.json"
    try:
        names = json.loads(config.read_bytes()).get("fast_tokenizer_files") if config.is_file() else None
    except (ValueError, AttributeError):
        return  # not a JSON object: transformers' own error says so
    for name in names if isinstance(names, list) else []:
        if not isinstance(name, str) or Path(name).name != name or name in ("..", "."):
            raise UnsafeModelFile(
                f"tokenizer_config.json in the model directory {str(shown)[:200]} names {str(name)[:100]!r} in "
                "fast_tokenizer_files, a path rather than a file of the directory, so it was not read. Remove "
                "fast_tokenizer_files (or list plain file names), then try again."
            )


# Model types whose folder AutoTokenizer loads as TokenizersBackend when tokenizer_config.json names that class
# (or its alias PreTrainedTokenizerFast) and no remote code: such a folder is loaded by that class directly, which
# skips AutoTokenizer's model registry and its torch import (about 2 s of a cold `byom check-data --model`).
# tests/data/test_token_paths.py holds AutoTokenizer to the same class for every type listed.
DIRECT_MODEL_TYPES = frozenset(
    {"llama", "qwen3", "qwen3_moe", "olmo2", "granite", "smollm3", "gemma3_text", "deepseek_v3", "gpt_oss"}
)
_BACKEND_CLASSES = ("TokenizersBackend", "PreTrainedTokenizerFast")


def _loads_as_backend(folder: Path) -> bool:
    try:
        tokenizer = json.loads((folder / "tokenizer_config.json").read_bytes())
        model = json.loads((folder / "config.json").read_bytes())
    except (OSError, ValueError):
        return False  # AutoTokenizer decides, and says what is wrong
    return (
        isinstance(tokenizer, dict)
        and isinstance(model, dict)
        and tokenizer.get("tokenizer_class") in _BACKEND_CLASSES
        and "auto_map" not in tokenizer
        and model.get("model_type") in DIRECT_MODEL_TYPES
        and (folder / "tokenizer.json").is_file()
    )


def _load_copy(copy: Path) -> Any:
    if _loads_as_backend(copy):
        from transformers.tokenization_utils_tokenizers import TokenizersBackend

        return TokenizersBackend.from_pretrained(copy, trust_remote_code=False)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(copy, trust_remote_code=False)


def load_tokenizer(model: str | Path, *, token: str | None = None, local_files_only: bool = False) -> Any:
    """A model's tokenizer (a local directory, or a Hub id with ``token`` for gated repos; with
    ``local_files_only`` a Hub id only from the Hub cache), never with remote code; a missing pad token becomes eos (padding is only ever masked out: labels -100, right padding).

    A local directory is loaded from ``byom.contained.vetted_copy``: a private copy of its regular files, so
    a link in it to a file outside (``chat_template.jinja`` -> ``~/.ssh/id_rsa``) is refused, never read.
    Raises UnsafeModelFile for such a directory, HubError for a path that is not a directory.
    """
    return _load(model, token=token, local_files_only=local_files_only, plain=False)


def load_counting_tokenizer(
    model: str | Path, *, token: str | None = None, local_files_only: bool = False
) -> Any:
    """The tokenizer the data check counts and previews with: ``load_tokenizer``'s, except that a local folder
    ``byom.data._plain`` reproduces exactly loads as a ``PlainTokenizer`` (``tokenizers`` and jinja2, no
    transformers import). Not for training or serving: it cannot pad, batch tensors or generate."""
    return _load(model, token=token, local_files_only=local_files_only, plain=True)


def _load(model: str | Path, *, token: str | None, local_files_only: bool, plain: bool) -> Any:
    local = _local(model)
    tokenizer: Any
    if local is None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(
            str(model), trust_remote_code=False, token=token, local_files_only=local_files_only
        )
    elif not local.is_dir():
        raise HubError(
            f"{str(local)[:200]} is not a model directory. Give the directory save_pretrained wrote (with its "
            "tokenizer files), or a Hub repo id such as org/name."
        )
    else:
        with vetted_copy(local) as copy:
            _names_stay_inside(copy, local)
            found = (
                plain_tokenizer(copy, lambda: load_tokenizer(local))
                if plain and _loads_as_backend(copy)
                else None
            )
            tokenizer = found if found is not None else _load_copy(copy)
        tokenizer.name_or_path = str(local)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model_config(model: str | Path, *, token: str | None = None) -> dict[str, Any] | None:
    """A model's config.json as a dict (a local directory, or a Hub id: one small file, cached by
    huggingface_hub); None when it cannot be read, so the caller falls back to what else it knows."""
    path = Path(model).expanduser()
    try:
        if not path.is_dir():
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(str(model), "config.json", token=token)).parent
        with (path / "config.json").open("rb") as fh:
            config = json.loads(fh.read(4 * 1024 * 1024))
    except Exception:  # noqa: BLE001 - any failure (no file, no access, bad JSON) means "context unknown"
        return None
    return config if isinstance(config, dict) else None


def require_template(tokenizer: Any) -> None:
    if not getattr(tokenizer, "chat_template", None):
        raise TrainingError(
            "Tokenizer has no chat template, so conversation data can't be rendered. Use a model whose "
            "tokenizer has a chat_template (usually the instruct variant), or convert the data to the "
            '"text" or "prompt"/"completion" format.'
        )


@dataclass
class _Chat:
    """A conversation rendered, before tokenizing: its text and the character spans that carry loss."""

    text: str
    spans: list[tuple[int, int]]
    notes: list[str]


def _guarded(render: Render, messages: list[dict[str, Any]]) -> Render:
    """``render``, with whatever the template raises (an undefined field, its own raise_exception, a type error)
    said as a ``ChatTemplateError`` about this row."""

    def call(k: int, gen_prompt: bool) -> str:
        try:
            return render(k, gen_prompt)
        except Exception as exc:
            why = f"{type(exc).__name__}: {quote(str(exc), 160)}"  # the template's words: untrusted
            bare = next((i for i, m in enumerate(messages) if not isinstance(m.get("content"), str)), None)
            if bare is not None and "content" in str(exc):
                why += (
                    f"; messages[{bare}] ({quote(str(messages[bare].get('role')), 20)}) has no text content"
                )
            raise ChatTemplateError(
                f"The model's chat template cannot render this row ({why}): training renders every row with it "
                "and would stop there."
            ) from exc

    return call


def _chat(tokenizer: Any, row: dict[str, Any], train_on_inputs: TrainOnInputs) -> _Chat:
    """Render with the chat template; label each message's span by rendering message prefixes."""
    require_template(tokenizer)
    messages: list[dict[str, Any]] = row["messages"]
    render = _guarded(prefix_renderer(tokenizer, messages, row.get("tools")), messages)
    full = render(len(messages), False)
    notes: list[str] = []
    # Character spans of trained messages. Rendering messages[:i] (+ the generation prompt for an
    # assistant turn) gives where message i's own text starts; rendering messages[:i+1] where it ends.
    spans: list[tuple[int, int]] = []
    pos = 0
    for i, msg in enumerate(messages):
        role = msg.get("role")
        trained = (
            bool(msg["weight"])
            if "weight" in msg
            else (role == "assistant" or _train_inputs(train_on_inputs))
        )
        content = msg.get("content")
        if isinstance(content, str) and content.strip() and content not in full:
            notes.append(
                f"The chat template dropped or rewrote message {i} ({role}): its content is not in the text."
            )
        end_text = render(i + 1, False)
        if role == "assistant" and not _train_inputs(train_on_inputs):
            # The assistant header (generation prompt) is input, not something to learn.
            head = render(i, True) if i else ""
        else:
            head = render(i, False) if i else ""
        if full.startswith(end_text) and full.startswith(head) and len(head) <= len(end_text):
            start, end = len(head), len(end_text)
        else:
            # Templates that rewrite earlier turns (e.g. drop old reasoning) aren't prefix-stable:
            # fall back to finding the message content verbatim after the previous span.
            if not any("prefix" in n for n in notes):
                notes.append(
                    f"The chat template renders earlier turns differently once later ones follow (not prefix-stable, "
                    f"from message {i}); trained spans were found by content."
                )
            if not isinstance(content, str) or not content:
                continue
            found = full.find(content, pos)
            if found < 0:
                continue
            start, end = found, found + len(content)
        pos = max(pos, end)
        if trained:
            spans.append((start, end))
    for role in sorted({str(m.get("role")) for m in messages}):
        if role not in full:
            notes.append(f"The chat template never writes the role '{role}': it merges or renames it.")
    return _Chat(full, spans, notes)


def _labels(ids: list[int], offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[int]:
    """A token carries loss when it is not empty and starts inside a trained span."""
    labels = [IGNORE] * len(ids)
    if not spans:
        return labels
    starts, ends = map(list, zip(*offsets, strict=True)) if offsets else ([], [])
    if starts == sorted(starts) and all(map(operator.lt, starts, ends)):
        # The usual case, in slices: tokens in text order, none empty.
        for s, e in spans:
            lo, hi = bisect_left(starts, s), bisect_left(starts, e)
            labels[lo:hi] = ids[lo:hi]
        return labels
    for t, (a, b) in enumerate(offsets):
        if b > a and any(s <= a < e for s, e in spans):
            labels[t] = ids[t]
    return labels


def _first_at(enc: Any, pos: int, length: int) -> int | None:
    """The first token starting at or after character ``pos`` (``bisect_left`` over the tokens' starts), read
    at that edge only; None where the tokens there overlap or leave the character out."""
    if pos >= length:
        return len(enc)
    t = enc.char_to_token(pos)  # the first token whose offsets hold pos
    if t is None:
        return None
    if enc.token_to_chars(t)[0] == pos:
        return int(t)
    if t + 1 < len(enc) and enc.token_to_chars(t + 1)[0] < pos:
        return None
    return int(t) + 1


def _labels_at_edges(enc: Any, ids: list[int], spans: list[tuple[int, int]], length: int) -> list[int]:
    """``_labels`` from an Encoding: with tokens in text order and none empty (``offsets_in_order``), the tokens
    starting inside a span are one slice, found at the span's edges without reading every token's offsets."""
    labels = [IGNORE] * len(ids)
    for s, e in spans:
        lo, hi = _first_at(enc, s, length), _first_at(enc, e, length)
        if lo is None or hi is None:
            return _labels(ids, enc.offsets, spans)
        labels[lo:hi] = ids[lo:hi]
    return labels


def _encoded(tokenizer: Any, chats: list[_Chat]) -> list[Encoded]:
    """The rendered conversations tokenized in one batch (the fast tokenizer spreads it over the cores)."""
    if not chats:
        return []
    if isinstance(tokenizer, PlainTokenizer):
        out = []
        for chat, enc in zip(chats, tokenizer.encode_batch([c.text for c in chats]), strict=True):
            ids = enc.ids
            labels = (
                _labels_at_edges(enc, ids, chat.spans, len(chat.text))
                if tokenizer.offsets_in_order
                else _labels(ids, enc.offsets, chat.spans)
            )
            out.append(Encoded(ids, labels, chat.notes))
        return out
    enc = tokenizer(
        [c.text for c in chats],
        add_special_tokens=False,
        return_offsets_mapping=True,
        return_attention_mask=False,  # never read: building them was a tenth of the time
        return_token_type_ids=False,
    )
    out = []
    for chat, ids, offsets in zip(chats, enc["input_ids"], enc["offset_mapping"], strict=True):
        ids = list(ids)
        out.append(Encoded(ids, _labels(ids, offsets, chat.spans), chat.notes))
    return out


def _as_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict))


def _ids(tokenizer: Any, text: str, *, special: bool) -> list[int]:
    if isinstance(tokenizer, PlainTokenizer):
        return tokenizer.encode(text, add_special_tokens=special)
    return list(tokenizer(text, add_special_tokens=special)["input_ids"])


def _instruction(tokenizer: Any, row: dict[str, Any], train_on_inputs: TrainOnInputs) -> Encoded:
    prompt = _ids(tokenizer, _as_text(row["prompt"]), special=True)
    completion = _ids(tokenizer, _as_text(row["completion"]), special=False)
    if tokenizer.eos_token_id is not None:
        completion = completion + [tokenizer.eos_token_id]
    prompt_labels = list(prompt) if _train_inputs(train_on_inputs) else [IGNORE] * len(prompt)
    return Encoded(prompt + completion, prompt_labels + completion)


def _general(tokenizer: Any, row: dict[str, Any]) -> Encoded:
    ids = _ids(tokenizer, row["text"], special=True)
    if tokenizer.eos_token_id is not None:
        ids = ids + [tokenizer.eos_token_id]
    return Encoded(ids, list(ids))


def _sft(tokenizer: Any, row: dict[str, Any], train_on_inputs: TrainOnInputs) -> _Chat | Encoded:
    """One SFT row, tokenized (instruction, general) or rendered for a batch to tokenize (conversation)."""
    if "messages" in row:
        return _chat(tokenizer, row, train_on_inputs)
    if "prompt" in row:
        return _instruction(tokenizer, row, train_on_inputs)
    if "text" in row:
        return _general(tokenizer, row)
    raise TrainingError(
        "This row is preference data, which needs DPO; the local engine trains SFT only. "
        "Use conversation, instruction or text data."
    )


def _preference_sides(row: dict[str, Any]) -> list[dict[str, Any]]:
    """A preference row as the two conversations it trains: input.messages + each output, loss on that output."""
    inp = row["input"]
    context = [{**m, "weight": 0} for m in inp["messages"]]
    return [
        {"messages": [*context, {**row[key][0], "weight": 1}], "tools": inp.get("tools")}
        for key in ("preferred_output", "non_preferred_output")
    ]


def _preference(tokenizer: Any, row: dict[str, Any]) -> list[_Chat | Encoded]:
    """input.messages + each output rendered with the chat template; loss labels only on that output."""
    require_template(tokenizer)
    return [_chat(tokenizer, side, "auto") for side in _preference_sides(row)]


def _render_whole(tokenizer: Any, row: dict[str, Any]) -> None:
    """Render each conversation of ``row`` whole, once: a ``ChatTemplateError`` where the template cannot (the
    rows ``file_token_stats`` does not tokenize are still tried this way: 20 µs a row, not 400)."""
    sides = _preference_sides(row) if "preferred_output" in row else [row] if "messages" in row else []
    if sides:
        require_template(tokenizer)
    for side in sides:
        messages = side["messages"]
        _guarded(prefix_renderer(tokenizer, messages, side.get("tools")), messages)(len(messages), False)


def _tokenized(tokenizer: Any, sides: list[_Chat | Encoded]) -> list[Encoded]:
    """Every side tokenized, the conversations in one batch, in the order given."""
    done = iter(_encoded(tokenizer, [s for s in sides if isinstance(s, _Chat)]))
    return [next(done) if isinstance(s, _Chat) else s for s in sides]


def encode_row(tokenizer: Any, row: dict[str, Any], *, train_on_inputs: TrainOnInputs = "auto") -> Encoded:
    """Tokenize one SFT row (conversation, instruction or general), not truncated."""
    return _tokenized(tokenizer, [_sft(tokenizer, row, train_on_inputs)])[0]


def encode_preference(tokenizer: Any, row: dict[str, Any]) -> tuple[Encoded, Encoded]:
    """input.messages + each output rendered with the chat template; loss labels only on that output."""
    chosen, rejected = _tokenized(tokenizer, _preference(tokenizer, row))
    return chosen, rejected


def sample_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Each sample of a JSONL file as its 1-based line and its bytes: the lines that are not blank (the checker
    skips blank lines, so a sample's index is not its line)."""
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            if raw.strip():
                yield lineno, raw


def iter_rows(path: Path, every: int = 1) -> Iterator[dict[str, Any]]:
    """The parsed samples of a JSONL file, or every ``every``-th of them from the first; run ``check_file`` first."""
    for _, raw in islice(sample_lines(path), 0, None, every):
        yield json.loads(raw)


# -- token statistics ---------------------------------------------------------------------------
class TokenStats(BaseModel):
    """Token counts of a file with one tokenizer and chat template (preference: chosen + rejected)."""

    model_config = ConfigDict(extra="forbid")

    samples: int
    total_tokens: int = Field(description="All tokens before truncation.")
    processed_tokens: int = Field(
        description="Tokens training reads in one epoch: after truncation, without the rows it drops. Times "
        "n_epochs, the job's token_count and the training tokens of a price estimate."
    )
    trained_tokens: int = Field(description="Of those, the tokens with a loss label.")
    min: int
    mean: float
    p95: int
    max: int
    max_seq_length: int
    over_max_seq_length: int = Field(description="Samples longer than max_seq_length: truncated in training.")
    no_trained_tokens: int = Field(
        description="Samples with no loss label left after truncation: dropped in training."
    )
    packed_sequences: int = Field(
        0,
        description="The sequences of max_seq_length the kept samples pack into, in file order, as the trainer "
        "packs them (no sample split; a preference pair is never packed: one sequence a pair).",
    )
    sampled_every: int = Field(
        1,
        description="1: every row was tokenized. k > 1: a bigger file: every k-th row was, and the counts above are "
        "scaled to the whole file (min, mean, p95 and max are those rows').",
    )


def _trained(labels: list[int]) -> int:
    return len(labels) - labels.count(IGNORE)


def _batches(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == _BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


def _has_tool_calls_only(row: dict[str, Any]) -> bool:
    """Does the row hold an assistant turn with tool_calls and no text content (a turn a template that never
    renders tool calls can only render empty)?"""
    inp = row.get("input")
    messages = row.get("messages") or (inp.get("messages") if isinstance(inp, dict) else None) or []
    return any(
        isinstance(m, dict) and m.get("tool_calls") and not isinstance(m.get("content"), str)
        for m in messages
    )


@dataclass
class Unrenderable:
    """The rows ``token_stats`` left out because the chat template cannot render them: how many, and the first
    few (the row's index among the samples, and why); ``checked``: how many rows were tried."""

    count: int = 0
    first: list[tuple[int, str]] = field(default_factory=list)
    checked: int = 0
    tool_calls_only: int = 0  # of them, rows with an assistant turn that has tool_calls and no text content

    def add(self, index: int, row: dict[str, Any], error: ChatTemplateError) -> None:
        self.count += 1
        self.tool_calls_only += _has_tool_calls_only(row)
        self.first = sorted([*self.first, (index, str(error))])[:3]


# A bigger file's statistics are of every k-th row, at most this many, the counts scaled to the file: 90,684
# preference pairs (58 M tokens) took 36 s to count in full, past a host's ~60 s tool call with the conversion
# before it; 10,000 rows pin a mean to within about 1% (that file: 7 s, every row still rendered once).
STATS_ROWS = 10_000


def file_token_stats(
    tokenizer: Any,
    path: Path,
    *,
    max_seq_length: int,
    train_on_inputs: TrainOnInputs = "auto",
    unrenderable: Unrenderable | None = None,
) -> TokenStats:
    """``token_stats`` of a checked JSONL file: of every row up to ``STATS_ROWS``, else of every k-th row with the
    counts scaled to the file's rows (``TokenStats.sampled_every``); the others are still rendered whole once, so
    ``unrenderable`` (indexed by the file's rows) counts every row the template cannot render. The same file and
    settings give the same figures every time."""
    rows = sum(1 for _ in sample_lines(path))
    every = max(1, -(-rows // STATS_ROWS))
    try:
        stats = token_stats(
            tokenizer,
            iter_rows(path, every),
            max_seq_length=max_seq_length,
            train_on_inputs=train_on_inputs,
            unrenderable=unrenderable,
        )
    except ChatTemplateError as exc:  # its index among the rows tried: the file's is every times that
        exc.sample = None if exc.sample is None else exc.sample * every
        raise
    if unrenderable is not None:
        unrenderable.first = [(sample * every, why) for sample, why in unrenderable.first]
    # The rows not tokenized are rendered whole, so a row training would stop on is found anywhere.
    if every > 1:
        for index, (_, raw) in enumerate(sample_lines(path)):
            if index % every:
                row = json.loads(raw)
                try:
                    _render_whole(tokenizer, row)
                except ChatTemplateError as exc:
                    exc.sample = index
                    if unrenderable is None:
                        raise
                    unrenderable.add(index, row, exc)
    if unrenderable is not None:
        unrenderable.checked = rows
    if every == 1:
        return stats
    # The rows that render, estimated from those tokenized: their counts scaled to all the rows that render.
    factor = (rows - (unrenderable.count if unrenderable is not None else 0)) / max(stats.samples, 1)

    def scaled(n: int) -> int:
        return round(n * factor)

    return stats.model_copy(
        update={
            "samples": scaled(stats.samples),
            "total_tokens": scaled(stats.total_tokens),
            "processed_tokens": scaled(stats.processed_tokens),
            "trained_tokens": scaled(stats.trained_tokens),
            "over_max_seq_length": scaled(stats.over_max_seq_length),
            "no_trained_tokens": scaled(stats.no_trained_tokens),
            "packed_sequences": scaled(stats.packed_sequences),
            "sampled_every": every,
        }
    )


def token_stats(
    tokenizer: Any,
    rows: Iterable[dict[str, Any]],
    *,
    max_seq_length: int,
    train_on_inputs: TrainOnInputs = "auto",
    unrenderable: Unrenderable | None = None,
) -> TokenStats:
    """min/mean/p95/max tokens per sample, totals, and how many samples truncation cuts or empties.

    A row the chat template cannot render raises ``ChatTemplateError`` (its ``sample`` set), as training would
    stop there; given ``unrenderable``, such rows are counted in it instead and the statistics are of the others."""
    lengths = array("I")  # 4 bytes a sample: the percentile needs them all
    total = processed = trained = over = empty = 0
    packed, block, block_weight = 0, 0, None  # the trainer's greedy packing (engine/trainer/_tokenize.pack)
    sample = -1
    for rows_in in _batches(rows):
        batch, per_row = [], []
        for row in rows_in:
            sample += 1
            try:
                per_row.append(
                    _preference(tokenizer, row)
                    if "preferred_output" in row
                    else [_sft(tokenizer, row, train_on_inputs)]
                )
            except ChatTemplateError as exc:
                exc.sample = sample
                if unrenderable is None:
                    raise
                unrenderable.add(sample, row, exc)
                continue
            batch.append(row)
        flat = iter(_tokenized(tokenizer, [side for sides in per_row for side in sides]))
        for row, rendered in zip(batch, per_row, strict=True):
            sides = [next(flat) for _ in rendered]
            n = sum(len(s.input_ids) for s in sides)
            per_side = [_trained(s.labels[:max_seq_length]) for s in sides]
            kept = sum(per_side)
            lengths.append(n)
            total += n
            over += any(len(s.input_ids) > max_seq_length for s in sides)
            # As the trainer drops them: a row (or a preference side) with nothing left to learn, or weight 0.
            dropped = min(per_side) == 0 or float(row.get("weight", 1.0)) == 0
            empty += dropped
            if not dropped:
                length = sum(min(len(s.input_ids), max_seq_length) for s in sides)
                processed += length
                trained += kept
                weight = float(row.get("weight", 1.0))
                if len(sides) == 1 and block and block + length <= max_seq_length and weight == block_weight:
                    block += length
                else:
                    packed, block, block_weight = packed + 1, length if len(sides) == 1 else 0, weight
    if not lengths:
        return TokenStats(
            samples=0,
            total_tokens=0,
            processed_tokens=0,
            trained_tokens=0,
            min=0,
            mean=0.0,
            p95=0,
            max=0,
            max_seq_length=max_seq_length,
            over_max_seq_length=0,
            no_trained_tokens=0,
        )
    ordered = sorted(lengths)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return TokenStats(
        samples=len(lengths),
        total_tokens=total,
        processed_tokens=processed,
        trained_tokens=trained,
        min=ordered[0],
        mean=round(total / len(lengths), 1),
        p95=p95,
        max=ordered[-1],
        max_seq_length=max_seq_length,
        over_max_seq_length=over,
        no_trained_tokens=empty,
        packed_sequences=packed,
    )


# -- the loss preview ---------------------------------------------------------------------------
class PreviewRow(BaseModel):
    """One row of ``POST /v1/fine-tunes/preview`` (SDK 3.1.1 ``FineTunePreviewRow``)."""

    model_config = ConfigDict(extra="forbid")

    input_ids: list[int]
    labels: list[int] = Field(description="-100 where no loss is taken.")
    num_tokens: int = Field(description="Tokens after truncation.")
    num_trained_tokens: int
    tokens: list[str]
    trained_spans: list[list[int]] = Field(description="Half-open [start, end) token index ranges with loss.")
    truncated: bool


class RowPreview(PreviewRow):
    """A preview row plus what a person reads: the text with trained spans marked, and the warnings."""

    rendered: str = Field(description=f"The decoded row, trained text between {SPAN_OPEN} and {SPAN_CLOSE}.")
    notes: list[str] = Field(default_factory=list, description="Truncation, missing EOS, template rewrites.")

    def together(self) -> PreviewRow:
        return PreviewRow.model_validate(self.model_dump(include=set(PreviewRow.model_fields)))


def _spans(labels: list[int]) -> list[list[int]]:
    spans: list[list[int]] = []
    for i, lab in enumerate(labels):
        if lab == IGNORE:
            continue
        if spans and spans[-1][1] == i:
            spans[-1][1] = i + 1
        else:
            spans.append([i, i + 1])
    return spans


def _marked(tokenizer: Any, ids: list[int], spans: list[list[int]]) -> str:
    parts: list[str] = []
    at = 0
    for start, end in spans:
        parts.append(tokenizer.decode(ids[at:start]))
        parts.append(SPAN_OPEN + tokenizer.decode(ids[start:end]) + SPAN_CLOSE)
        at = end
    parts.append(tokenizer.decode(ids[at:]))
    return "".join(parts)


def preview_row(
    tokenizer: Any, row: dict[str, Any], *, max_seq_length: int, train_on_inputs: TrainOnInputs = "auto"
) -> RowPreview:
    """What the loss sees for one SFT row, truncated at max_seq_length as in training."""
    enc = encode_row(tokenizer, row, train_on_inputs=train_on_inputs)
    return _preview_encoded(tokenizer, enc, max_seq_length, chat="messages" in row)


def preview_pair(
    tokenizer: Any, row: dict[str, Any], *, max_seq_length: int
) -> tuple[RowPreview, RowPreview]:
    """What each side's loss sees for one preference row (chosen, rejected), truncated as in training."""
    chosen, rejected = encode_preference(tokenizer, row)
    return (
        _preview_encoded(tokenizer, chosen, max_seq_length, chat=True),
        _preview_encoded(tokenizer, rejected, max_seq_length, chat=True),
    )


def _preview_encoded(tokenizer: Any, enc: Encoded, max_seq_length: int, *, chat: bool) -> RowPreview:
    notes = list(enc.notes)
    truncated = len(enc.input_ids) > max_seq_length
    ids, labels = enc.input_ids[:max_seq_length], enc.labels[:max_seq_length]
    spans = _spans(labels)
    if truncated:
        lost = sum(1 for x in enc.labels[max_seq_length:] if x != IGNORE)
        notes.append(
            f"Truncated from {len(enc.input_ids)} to {max_seq_length} tokens; {lost} trained tokens cut."
            + (" Nothing is left to learn: training drops this row." if not spans else "")
        )
    elif not spans:
        notes.append("No token carries a loss label: training drops this row.")
    eos = getattr(tokenizer, "eos_token_id", None)
    if eos is not None and chat:
        # A trained assistant turn should end with EOS (or the template's end-of-turn token, usually the
        # instruct tokenizer's EOS), or the tuned model never learns to stop.
        for start, end in spans:
            if end == len(ids) and truncated:
                continue
            if eos not in ids[max(start, end - 3) : end]:
                notes.append(
                    f"Trained tokens {start}-{end} do not end with the EOS token {tokenizer.eos_token!r}: the model "
                    "may never stop. Use a chat template that closes assistant turns with EOS."
                )
                break
    return RowPreview(
        input_ids=ids,
        labels=labels,
        num_tokens=len(ids),
        num_trained_tokens=sum(e - s for s, e in spans),
        tokens=[str(t) for t in tokenizer.convert_ids_to_tokens(ids)],
        trained_spans=spans,
        truncated=truncated,
        rendered=_marked(tokenizer, ids, spans),
        notes=notes,
    )


def preview(
    rows: Iterable[dict[str, Any]],
    tokenizer: Any,
    *,
    max_seq_length: int,
    train_on_inputs: TrainOnInputs = "auto",
    top_k: int = 5,
) -> list[RowPreview]:
    """Preview the first ``top_k`` SFT rows (Together's ``top_k``: rows from the start of the file)."""
    out: list[RowPreview] = []
    skipped: list[ChatTemplateError] = []
    for row in rows:
        if len(out) >= top_k:
            break
        try:
            shown = preview_row(
                tokenizer, row, max_seq_length=max_seq_length, train_on_inputs=train_on_inputs
            )
        except ChatTemplateError as exc:  # the next row is shown, and says why this one is not
            skipped.append(exc)
            continue
        if skipped:
            shown.notes.insert(0, f"{len(skipped)} row(s) before this one are not shown: {skipped[0]}")
            skipped = []
        out.append(shown)
    if not out and skipped:
        raise skipped[0]  # no row renders: say why, rather than preview nothing
    return out
