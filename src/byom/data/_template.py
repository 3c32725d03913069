"""A conversation's message prefixes rendered with the tokenizer's chat template, as ``apply_chat_template``
renders them, at a fraction of its cost.

Finding which characters each message wrote takes a render of every prefix of the conversation
(``byom.data._tokens``). ``tokenizer.apply_chat_template`` converts the whole message list again on every call
(normalising, copying into plain data, aliasing reasoning fields) before one Jinja render; that conversion was
half of the token statistics' time. Here transformers' own steps run once a row and each prefix is only a render:

    messages ──_normalize_chat_messages──► _plain_template_data ──► _alias_reasoning_fields ──► converted
    prefix k ──compiled template (transformers' cached sandbox)──► converted[:k], tools, special tokens

Each conversion step works message by message, so a prefix of the converted list is the converted prefix, and
the sandbox is immutable, so one render cannot change what the next one sees. Anything these steps do not cover
(tools given as functions, a non-dict message, an empty prefix, transformers without these helpers) goes through
``apply_chat_template`` itself. A ``PlainTokenizer`` renders the same steps with ``byom.data._jinja`` (no
transformers import); a row outside them goes to transformers' tokenizer of its folder.
tests/data/test_token_paths.py holds all of them to the same text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from byom.data._plain import PlainTokenizer

__all__ = ["prefix_renderer"]

Render = Callable[[int, bool], str]


def _slow(tokenizer: Any, messages: list[dict[str, Any]], tools: Any) -> Render:
    def render(k: int, gen_prompt: bool) -> str:
        return str(
            tokenizer.apply_chat_template(
                messages[:k], tools=tools, tokenize=False, add_generation_prompt=gen_prompt
            )
        )

    return render


def _json_chat(messages: list[dict[str, Any]], tools: Any) -> bool:
    """Messages and tools as a JSON file gives them: what ``byom.data._jinja`` renders as transformers does."""
    plain_tools = tools is None or (isinstance(tools, list) and all(isinstance(t, dict) for t in tools))
    return plain_tools and bool(messages) and all(isinstance(m, dict) for m in messages)


def _prefixes(
    compiled: Any, converted: list[Any], tools: Any, special: dict[str, Any], empty: Render
) -> Render:
    """Each prefix of ``converted`` rendered by ``compiled`` with what ``apply_chat_template`` passes a template;
    ``empty`` answers for no message at all (apply_chat_template refuses it)."""

    def render(k: int, gen_prompt: bool) -> str:
        if k == 0:
            return empty(k, gen_prompt)
        return str(
            compiled.render(
                messages=converted[:k],
                tools=tools,
                documents=None,
                add_generation_prompt=gen_prompt,
                **special,
            )
        )

    return render


def _refuse_empty(k: int, gen_prompt: bool) -> str:
    raise ValueError("Cannot apply chat template to an empty conversation. Provide at least one message.")


def _plain(tokenizer: PlainTokenizer, messages: list[dict[str, Any]], tools: Any) -> Render:
    from byom.data._jinja import compile_template, template_messages

    compiled = compile_template(str(tokenizer.chat_template))
    special = dict(tokenizer.special_tokens_map)
    return _prefixes(compiled, template_messages(messages), tools, special, _refuse_empty)


def prefix_renderer(tokenizer: Any, messages: list[dict[str, Any]], tools: Any) -> Render:
    """``render(k, gen_prompt)``: ``messages[:k]`` as ``tokenizer.apply_chat_template(messages[:k], tools=tools,
    tokenize=False, add_generation_prompt=gen_prompt)`` writes it; each prefix rendered once (memoised)."""
    if isinstance(tokenizer, PlainTokenizer):
        if _json_chat(messages, tools):
            return _memoised(_plain(tokenizer, messages, tools))
        tokenizer = tokenizer.transformers()
    try:
        from transformers.utils.chat_template_utils import (
            _alias_reasoning_fields,
            _compile_jinja_template,
            _normalize_chat_messages,
            _plain_template_data,
        )
    except ImportError:  # another transformers: its own public call, slower but the same text
        return _memoised(_slow(tokenizer, messages, tools))
    plain_tools = tools is None or (isinstance(tools, list) and all(isinstance(t, dict) for t in tools))
    if not plain_tools or not all(isinstance(m, dict) for m in messages):
        return _memoised(_slow(tokenizer, messages, tools))
    compiled = _compile_jinja_template(tokenizer.get_chat_template(None, tools))
    converted = _alias_reasoning_fields(_plain_template_data(_normalize_chat_messages(messages)))
    special = _plain_template_data(tokenizer.special_tokens_map)
    slow = _slow(tokenizer, messages, tools)
    return _memoised(_prefixes(compiled, converted, _plain_template_data(tools), special, slow))


def _memoised(render: Render) -> Render:
    done: dict[tuple[int, bool], str] = {}

    def once(k: int, gen_prompt: bool) -> str:
        key = (k, gen_prompt)
        if key not in done:
            done[key] = render(key[0], key[1])
        return done[key]

    return once
