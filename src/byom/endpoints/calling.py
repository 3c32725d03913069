"""How the user calls a served model from their own code, and the one completion that proves it before READY.

Caller.of(backend)  the route (the backend's root URL, POST /v1/chat/completions) and where the key comes
                    from: TOGETHER_API_KEY for Together; BYOM_ENGINE_API_KEY when the user gave the engine
                    one; else the engine's key file, read by path (its value never enters the chat)
caller.python/curl  the snippets, to paste as they are into a fresh shell (Python: `pip install together`)
check_call          one completion through that route with the key read where the snippet reads it: a
                    deployment is READY to the user only once it answered
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from byom.backend import Backend
from byom.config import Settings, engine_key_path
from byom.errors import ByomError, TogetherAPIError
from byom.untrusted import ERROR_BODY_CHARS, quote

__all__ = ["INSTALL", "CallCheck", "Caller", "check_call"]

# What the Python snippet needs besides Python itself (curl needs curl).
INSTALL = "pip install together"
# The snippets' question, and the proof's: one short completion.
_PROMPT = "Hello"
_MAX_TOKENS = 32
# A READY deployment answers a short completion in seconds; half a minute means it does not (and bounds the call).
_CHECK_TIMEOUT_S = 30.0
_TOGETHER_KEYS = "https://api.together.ai/settings/api-keys"


class CallCheck(BaseModel):
    """The one completion made before READY is reported, the way the snippets make it."""

    ok: bool
    route: str = Field(description="The method and URL the snippets call.")
    key_from: str = Field(description="Where the snippets read the key: a variable or the key file's path.")
    ms: int | None = Field(None, description="How long the completion took.")
    problem: str | None = Field(None, description="Why it failed, and what to do.")

    def line(self) -> str:
        if self.ok:
            return f"verified: one completion through {self.route} with the key from {self.key_from}, {self.ms} ms."
        return f"NOT verified: one completion through {self.route} failed. {self.problem}"


@dataclass(frozen=True)
class Caller:
    """The route to a backend's models and where the caller's key comes from: a variable, or a file by path."""

    base_url: str
    key_env: str | None
    key_file: Path | None

    @classmethod
    def of(cls, backend: Backend) -> Caller:
        settings = backend.settings
        if backend.kind == "together":
            return cls(backend.base_url, "TOGETHER_API_KEY", None)
        if settings.engine_api_key is not None:
            return cls(backend.base_url, "BYOM_ENGINE_API_KEY", None)
        return cls(backend.base_url, None, engine_key_path(settings))

    @property
    def route(self) -> str:
        return f"POST {self.base_url}/v1/chat/completions"

    @property
    def key_from(self) -> str:
        return f"${self.key_env}" if self.key_env else f"the key file {self.key_file}"

    def key(self, settings: Settings) -> str | None:
        """The key as the snippet finds it: the file read now, or the variable's value the server was given."""
        if self.key_file is not None:
            try:
                return self.key_file.read_text(encoding="utf-8").strip() or None
            except OSError:
                return None
        held = settings.together_api_key if self.key_env == "TOGETHER_API_KEY" else settings.engine_api_key
        return held.get_secret_value() if held is not None else None

    def python(self, model: str) -> str:
        if self.key_file is not None:
            head, key = "from pathlib import Path\n", f"Path({str(self.key_file)!r}).read_text().strip()"
        else:
            head, key = "import os\n", f"os.environ[{self.key_env!r}]"
        return (
            f"{head}from together import Together\n"
            f"client = Together(base_url={self.base_url!r}, api_key={key})\n"
            f"reply = client.chat.completions.create(model={model!r}, "
            f"messages=[{{'role': 'user', 'content': {_PROMPT!r}}}], max_tokens={_MAX_TOKENS})\n"
            "print(reply.choices[0].message.content)"
        )

    def curl(self, model: str) -> str:
        key = f"$(cat {shlex.quote(str(self.key_file))})" if self.key_file is not None else f"${self.key_env}"
        body = {"model": model, "messages": [{"role": "user", "content": _PROMPT}], "max_tokens": _MAX_TOKENS}
        return (
            f'curl -sS {self.base_url}/v1/chat/completions -H "Authorization: Bearer {key}" '
            f"-H 'Content-Type: application/json' -d {shlex.quote(json.dumps(body))}"
        )

    def refused(self) -> str:
        """What to do when the backend refuses the key the snippets send."""
        if self.key_env == "TOGETHER_API_KEY":
            return (
                f"Together refused TOGETHER_API_KEY: create a key at {_TOGETHER_KEYS}, set it as TOGETHER_API_KEY in "
                "your shell (and in the MCP host's env block for byom), never in the chat."
            )
        if self.key_env is not None:
            return (
                f"The engine at {self.base_url} refused BYOM_ENGINE_API_KEY: set it (in your shell and in the MCP "
                "host's env block for byom) to the key the engine was started with."
            )
        return (
            f"The engine at {self.base_url} does not take the key in {self.key_file}: it was started with "
            "--api-key, BYOM_ENGINE_API_KEY or another --data-dir. Start it as `byom engine` (its key then is that "
            "file), or give byom and your code its key as BYOM_ENGINE_API_KEY."
        )


async def check_call(caller: Caller, model: str, backend: Backend) -> CallCheck:
    """One completion from ``model`` through the caller's route, with the key read where the snippets read it."""
    found = {"ok": False, "route": caller.route, "key_from": caller.key_from}
    key = caller.key(backend.settings)
    if key is None:
        return CallCheck(
            **found,
            problem=f"There is no key at {caller.key_from}. " + caller.refused(),
        )
    from byom.together import (
        TogetherClient,  # its own client, as a user's snippet makes one; loaded on first use
    )

    started = time.perf_counter()
    try:
        async with TogetherClient(
            api_key=key,
            base_url=caller.base_url,
            transport=backend.transport,
            timeout=_CHECK_TIMEOUT_S,
            max_retries=0,
        ) as client:
            reply = await client.chat_completion(
                model, [{"role": "user", "content": _PROMPT}], max_tokens=_MAX_TOKENS
            )
    except TogetherAPIError as exc:
        if exc.status_code in (401, 403):
            return CallCheck(**found, problem=caller.refused())
        return CallCheck(**found, problem=_unanswered(str(exc)))
    except ByomError as exc:
        return CallCheck(**found, problem=_unanswered(str(exc)))
    ms = round((time.perf_counter() - started) * 1000)
    if not reply.choices:
        return CallCheck(**found, ms=ms, problem=_unanswered("the answer held no completion"))
    return CallCheck(ok=True, route=caller.route, key_from=caller.key_from, ms=ms)


def _unanswered(why: str) -> str:
    return (
        f"It did not answer: {quote(why, ERROR_BODY_CHARS)}. The deployment may still be loading or failing: "
        "manage_endpoint(action='status') shows its state and events; once READY, call the snippet again."
    )
