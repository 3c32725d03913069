"""A model folder's tokenizer for counting tokens, without transformers: the data check's fast path.

Importing transformers costs more than counting a 2,000-row file, and the count needs only what
``tokenizers`` and jinja2 do. A folder transformers would load as ``TokenizersBackend`` (``_tokens.
_loads_as_backend``) is read here when its files say nothing this module does not reproduce exactly:

    tokenizer.json ──tokenizers.Tokenizer──► as transformers leaves it (no truncation or padding at call time,
                                             special tokens unsplit, a missing post-processor the one
                                             transformers writes)
    tokenizer_config.json ──only the keys in _KEYS, with plain values──► special tokens, model_max_length
    chat_template.jinja / the config's chat_template ──_jinja.compile_template──► renders

Anything else (a key not listed, add_bos_token, tokens transformers would add or rewrite, legacy files, several
templates) returns None: the caller loads transformers' tokenizer as before. A row the replica does not cover
(tools that are not JSON schemas, a message that is not an object) is rendered by transformers' tokenizer, loaded
then (``PlainTokenizer.transformers``). The trainer and serving never use this class (``load_tokenizer``).
tests/data/test_token_paths.py holds its statistics, previews, ids and labels to transformers' on every format.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

__all__ = ["PlainTokenizer", "plain_tokenizer"]

# transformers' SPECIAL_TOKENS_ATTRIBUTES: the named special tokens a chat template receives as variables.
_NAMED = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
_EXTRA = ("extra_special_tokens", "additional_special_tokens")
# tokenizer_config.json keys read here, or known to change nothing a count or a render sees; any other key sends
# the folder to transformers. The flags count only when false (_OFF).
_OFF = ("add_bos_token", "add_eos_token", "add_prefix_space", "split_special_tokens")
_KEYS = frozenset(
    {
        "tokenizer_class",
        "backend",
        "added_tokens_decoder",
        "chat_template",
        "model_max_length",
        "clean_up_tokenization_spaces",
        "model_input_names",
        "padding_side",
        "truncation_side",
        *_NAMED,
        *_EXTRA,
        *_OFF,
    }
)
# Files transformers reads besides these (legacy special tokens and added tokens, named templates).
_OTHER_FILES = (
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.json",
    "additional_chat_templates",
)
_NO_LIMIT = int(1e30)  # transformers' VERY_LARGE_INTEGER: model_max_length when the config gives none
_TOKEN_FLAGS = ("content", "lstrip", "rstrip", "normalized", "single_word", "special")


@dataclass
class PlainTokenizer:
    """``tokenizers`` and a chat template, with the attributes of a transformers tokenizer that the token
    statistics and the loss preview read (``chat_template``, ``special_tokens_map``, ``eos_token_id``,
    ``model_max_length``, ``decode``, ``convert_ids_to_tokens``)."""

    backend: Tokenizer
    chat_template: str | None
    special_tokens_map: dict[str, str]
    model_max_length: int
    # Every token's offsets non-empty and in text order: the trained mask can be read at span edges.
    offsets_in_order: bool
    load_transformers: Callable[[], Any] = field(repr=False)
    name_or_path: str = ""
    _transformers: Any = field(default=None, init=False, repr=False)

    @property
    def eos_token(self) -> str | None:
        return self.special_tokens_map.get("eos_token")

    @property
    def eos_token_id(self) -> int | None:
        return self._id("eos_token")

    @property
    def pad_token(self) -> str | None:
        return self.special_tokens_map.get("pad_token")

    @pad_token.setter
    def pad_token(self, token: str | None) -> None:  # load_tokenizer's rule: a missing pad token becomes eos
        if token is None:
            self.special_tokens_map.pop("pad_token", None)
        else:
            self.special_tokens_map["pad_token"] = token

    @property
    def pad_token_id(self) -> int | None:
        return self._id("pad_token")

    def _id(self, name: str) -> int | None:
        token = self.special_tokens_map.get(name)
        return None if token is None else self.backend.token_to_id(token)

    def encode(self, text: str, *, add_special_tokens: bool) -> list[int]:
        return list(self.backend.encode(text, add_special_tokens=add_special_tokens).ids)

    def encode_batch(self, texts: list[str]) -> list[Encoding]:
        """Rendered chats, tokenized as they are (no special tokens added), spread over the cores."""
        return list(self.backend.encode_batch(texts, add_special_tokens=False))

    def decode(self, ids: list[int]) -> str:
        return str(self.backend.decode(ids, skip_special_tokens=False))

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str | None]:
        return [self.backend.id_to_token(i) for i in ids]

    def transformers(self) -> Any:
        """transformers' tokenizer of the same folder, for the rare row this class does not render itself."""
        if self._transformers is None:
            self._transformers = self.load_transformers()
        return self._transformers


def plain_tokenizer(folder: Path, load_transformers: Callable[[], Any]) -> PlainTokenizer | None:
    """The folder's tokenizer without transformers, or None when its files ask for anything not reproduced here.

    ``folder`` is a vetted copy (``byom.contained.vetted_copy``) that ``_tokens._loads_as_backend`` accepted;
    ``load_transformers`` loads transformers' tokenizer of the same folder, when a row needs it.
    """
    try:
        import jinja2
        from tokenizers import Tokenizer, processors

        from byom.data._jinja import MIN_JINJA
    except ImportError:
        return None
    if tuple(int(p) for p in jinja2.__version__.split(".")[:3] if p.isdigit()) < MIN_JINJA:
        return None  # transformers refuses it too, in its own words
    try:
        config = json.loads((folder / "tokenizer_config.json").read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict) or any((folder / name).exists() for name in _OTHER_FILES):
        return None
    tokens = _special_tokens(config)
    limit = config.get("model_max_length", _NO_LIMIT)
    template = config.get("chat_template")
    if (folder / "chat_template.jinja").is_file():  # before the config's, as transformers reads them
        template = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    if tokens is None or type(limit) is not int or not isinstance(template, str | None):
        return None  # (a list of named templates: transformers picks one by the tools given)
    named, extra = tokens
    try:
        backend = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception:  # noqa: BLE001 - transformers reads it next and says what is wrong in its words
        return None
    if backend.truncation is not None or backend.padding is not None:
        return None  # transformers takes settings (a pad token) from these; rare enough to leave to it
    if not _tokens_kept(backend, config, [*named.values(), *extra]):
        return None
    if config.get("clean_up_tokenization_spaces") and type(backend.model).__name__ != "BPE":
        return None  # transformers cleans decoded text then (it skips the clean-up for BPE)
    if backend.post_processor is None:  # what transformers' update_post_processor writes (add_bos_token off)
        backend.post_processor = processors.TemplateProcessing(
            single="$A:0", pair="$A:0 $B:1", special_tokens=[]
        )
    backend.encode_special_tokens = False  # transformers' split_special_tokens, off
    return PlainTokenizer(
        backend=backend,
        chat_template=template,
        special_tokens_map=named,
        model_max_length=limit,
        offsets_in_order=not _trims_offsets(json.loads(backend.post_processor.__getstate__())),
        load_transformers=load_transformers,
    )


def _special_tokens(config: dict[str, Any]) -> tuple[dict[str, str], list[str]] | None:
    """The named special tokens and the extra ones, all strings; None when the config holds a key or a value
    transformers would read in a way not reproduced here."""
    if not set(config) <= _KEYS or any(config.get(flag) for flag in _OFF):
        return None
    named = {name: config[name] for name in _NAMED if config.get(name) is not None}
    lists = [config[key] for key in _EXTRA if config.get(key)]
    extra = lists[0] if len(lists) == 1 else []
    if len(lists) > 1 or not isinstance(extra, list):
        return None  # both lists given: transformers keeps one its own way
    if not all(isinstance(t, str) for t in [*named.values(), *extra]):
        return None  # a token written as an object (lstrip, normalized...): transformers builds it
    return named, extra


def _tokens_kept(backend: Tokenizer, config: dict[str, Any], special: list[str]) -> bool:
    """True when transformers would add or rewrite no token: each special token is already an added token of
    tokenizer.json, special and matched as written (transformers adds it so), and the config's
    added_tokens_decoder repeats tokenizer.json's."""
    from tokenizers import AddedToken

    added = backend.get_added_tokens_decoder()
    by_content = {token.content: token for token in added.values()}
    for content in special:
        token = by_content.get(content)
        if (
            token is None
            or not token.special
            or any((token.normalized, token.lstrip, token.rstrip, token.single_word))
        ):
            return False
    written = config.get("added_tokens_decoder") or {}
    if not isinstance(written, dict):
        return False
    for key, entry in written.items():
        have = added.get(int(key)) if str(key).isdigit() else None
        if have is None or not isinstance(entry, dict) or not set(entry) <= set(_TOKEN_FLAGS):
            return False
        try:
            want = AddedToken(**entry)
        except (TypeError, ValueError):
            return False
        if any(getattr(want, flag) != getattr(have, flag) for flag in _TOKEN_FLAGS):
            return False
    return True


def _trims_offsets(node: Any) -> bool:
    """Whether a post-processor (its JSON) trims offsets (ByteLevel or Roberta ``trim_offsets``): a token of
    spaces can then be left empty, and the trained mask must read every token's offsets."""
    if isinstance(node, dict):
        return node.get("trim_offsets") is True or any(_trims_offsets(v) for v in node.values())
    return isinstance(node, list) and any(_trims_offsets(v) for v in node)
