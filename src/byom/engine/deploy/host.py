"""Loaded models for serving: load (full weights, or a LoRA adapter on its base), generate, stream.

Generation is blocking and runs in worker threads; one lock per loaded model keeps requests
to the same weights in order. Remote code is never trusted.

Attached LoRA adapters (``load_adapter``) live on the loaded base as named PEFT adapters. The model's one lock
covers a whole generation *and* its adapter choice (``set_adapter`` for an adapter request, ``disable_adapter()``
for a base one), and every load or unload: base and adapter requests on one loaded model are serialised, so
none ever runs with another request's adapter active.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from byom.contained import require_contained
from byom.data import load_tokenizer
from byom.engine.trainer import context_length
from byom.errors import EngineError, UnsafeModelFile, root_error_line

__all__ = [
    "GENERATION_THREADS",
    "AdapterGone",
    "Generation",
    "LoadSpec",
    "LoadedModel",
    "ModelPool",
    "SamplingParams",
    "StreamHandle",
]

log = logging.getLogger("byom.engine.deploy.inference")

# Tokenizing and generating take worker threads from their model's own limiter, never from anyio's
# default one (shared by every route): sixty chat requests then wait here, not in front of estimate-price.
GENERATION_THREADS = 4


class AdapterGone(EngineError):
    """The adapter a request was routed to was detached before its generation started."""


@dataclass(frozen=True)
class LoadSpec:
    """What to load where: a full model directory, or an adapter directory plus its base."""

    path: str
    device: str = "cpu"
    base_path: str | None = None  # set: ``path`` is a PEFT adapter loaded on top of this base


@dataclass
class SamplingParams:
    max_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 1.0
    top_k: int | None = None
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    repetition_penalty: float | None = None


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" | "length"


# transformers' from_pretrained is not thread-safe: it swaps methods on PreTrainedModel for the length of a
# load (no_tie_weights, no_init_weights). Two loads at once can restore each other's stand-ins, which leaves
# weight tying off for the rest of the process (tied models then serve with a random lm_head). One load at a time.
_LOAD_LOCK = threading.Lock()


def _contained(directory: str) -> str:
    """``directory`` when no file in it leads out of it (byom.contained): from_pretrained follows links."""
    try:
        return str(require_contained(Path(directory)))
    except UnsafeModelFile as exc:
        raise EngineError(str(exc)) from None


def _from_pretrained(cls: Any, source: str, **kwargs: Any) -> Any:
    if Path(source).is_dir():
        return cls.from_pretrained(_contained(source), trust_remote_code=False, **kwargs)
    # A Hub id: the weights a job trained from sit in the HF cache; only download when they do not.
    try:
        return cls.from_pretrained(source, trust_remote_code=False, local_files_only=True, **kwargs)
    except OSError:
        return cls.from_pretrained(source, trust_remote_code=False, **kwargs)


def _tokenizer(source: str) -> Any:
    """A local directory's tokenizer from byom.contained's vetted copy; a Hub id's as ``_from_pretrained`` finds it."""
    if Path(source).is_dir():
        return load_tokenizer(Path(_contained(source)))
    from transformers import AutoTokenizer

    return _from_pretrained(AutoTokenizer, source)


def _serving_dtype(torch: Any, device: str) -> Any:
    """fp32 on the CPU, bf16 on CUDA, fp16 on Apple's mps (whose bf16 support depends on the macOS version)."""
    if device.startswith("cuda"):
        return torch.bfloat16
    if device == "mps":
        return torch.float16
    return torch.float32


class LoadedModel:
    """A model and tokenizer on one device, with the lock that serialises generation."""

    def __init__(self, spec: LoadSpec) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        self.spec = spec
        self.lock = threading.Lock()
        self.adapters: set[str] = set()  # names of attached PEFT adapters (``load_adapter``)
        self.limiter = anyio.CapacityLimiter(GENERATION_THREADS)
        dtype = _serving_dtype(torch, spec.device)
        with _LOAD_LOCK:
            if spec.base_path is not None:
                from peft import PeftModel

                base = _from_pretrained(AutoModelForCausalLM, spec.base_path, dtype=dtype)
                model = PeftModel.from_pretrained(base, _contained(spec.path))
                has_tokenizer = (Path(spec.path) / "tokenizer_config.json").exists()
                self.tokenizer = _tokenizer(spec.path if has_tokenizer else spec.base_path)
            else:
                model = _from_pretrained(AutoModelForCausalLM, spec.path, dtype=dtype)
                self.tokenizer = _tokenizer(spec.path)
        self.model = model.to(spec.device)
        self.model.eval()
        config = getattr(self.model, "config", None)
        # The one reading of a config's context (trainer.spec.context_length); 4096 when the config says nothing.
        self.context_length = context_length(config.to_dict() if config is not None else {}) or 4096

    # --- attached adapters -----------------------------------------------------------------

    def load_adapter(self, name: str, path: str) -> None:
        """Attach the PEFT LoRA adapter in ``path`` as ``name`` (blocking: waits for the running generation)."""
        from peft import PeftConfig, PeftModel

        if self.spec.base_path is not None:
            raise EngineError(
                "This deployment serves an adapter merged onto its base; attach to a base model."
            )
        path = _contained(path)
        config = PeftConfig.from_pretrained(path)
        config.inference_mode = True
        with _LOAD_LOCK, self.lock:
            # Wrap (or add) first, then load the weights: a failed load leaves a named adapter that is deleted
            # again below, never half-injected layers on the base that base requests would run through.
            if isinstance(self.model, PeftModel):
                self.model.add_adapter(name, config)
            else:
                self.model = PeftModel(self.model, config, adapter_name=name)
            self.adapters.add(name)
            try:
                self.model.load_adapter(path, adapter_name=name, is_trainable=False)
                self.model.to(self.spec.device)
                self.model.eval()
            except BaseException:
                self._remove(name)
                raise

    def unload_adapter(self, name: str) -> None:
        """Detach adapter ``name`` (nothing if it is not attached); the last one leaves the plain base."""
        with self.lock:
            self._remove(name)

    def _remove(self, name: str) -> None:
        if name not in self.adapters:
            return
        self.adapters.discard(name)
        if self.adapters:
            with (
                warnings.catch_warnings()
            ):  # "Adapter … was active which is now deleted": each request sets its own
                warnings.simplefilter("ignore", UserWarning)
                self.model.delete_adapter(name)
        else:
            self.model = self.model.unload()  # the base again, LoRA layers swapped back for the originals
        gc.collect()

    @contextlib.contextmanager
    def using(self, adapter: str | None = None) -> Iterator[Any]:
        """The model under its lock with ``adapter`` active (or the base alone), for work other than generating
        (a held-out loss): the same choice a generation makes, held for the whole block."""
        with self.lock, self._adapter_context(adapter):
            yield self.model

    def _adapter_context(self, adapter: str | None) -> contextlib.AbstractContextManager[Any]:
        # Called under self.lock: the choice holds for exactly one generation.
        if adapter is not None:
            if adapter not in self.adapters:
                raise AdapterGone("The adapter was detached from this deployment; attach it again and retry.")
            self.model.set_adapter(adapter)
            return contextlib.nullcontext()
        return self.model.disable_adapter() if self.adapters else contextlib.nullcontext()

    # --- prompts ---------------------------------------------------------------------------

    def encode_chat(self, messages: list[dict[str, str]]) -> list[int]:
        """Token ids of ``messages`` through the model's own chat template, ready for the reply."""
        if not getattr(self.tokenizer, "chat_template", None):
            raise EngineError(
                "This model has no chat template, so chat messages cannot be formatted. "
                "Use POST /v1/completions with a plain prompt, or deploy a model whose tokenizer has a chat template."
            )
        text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode_text(self, prompt: str) -> list[int]:
        return list(self.tokenizer(prompt)["input_ids"])

    # --- generation ------------------------------------------------------------------------

    def _kwargs(self, prompt_len: int, params: SamplingParams, criteria: list[Any]) -> dict[str, Any]:
        from transformers import StoppingCriteriaList

        room = max(1, self.context_length - prompt_len)
        kwargs: dict[str, Any] = {
            "max_new_tokens": max(1, min(params.max_tokens, room)),
            "do_sample": params.temperature > 0,
            "stopping_criteria": StoppingCriteriaList(criteria),
            "pad_token_id": self.tokenizer.pad_token_id
            if self.tokenizer.pad_token_id is not None
            else self.tokenizer.eos_token_id,
        }
        if params.temperature > 0:
            kwargs.update(temperature=params.temperature, top_p=params.top_p)
            if params.top_k:
                kwargs["top_k"] = params.top_k
        if params.repetition_penalty:
            kwargs["repetition_penalty"] = params.repetition_penalty
        return kwargs

    def _run(
        self,
        ids: list[int],
        params: SamplingParams,
        criteria: list[Any],
        streamer: Any = None,
        adapter: str | None = None,
    ) -> list[int]:
        import torch

        input_ids = torch.tensor([ids], device=self.spec.device)
        kwargs = self._kwargs(len(ids), params, criteria)
        with self.lock, torch.inference_mode(), self._adapter_context(adapter):
            if params.seed is not None:
                torch.manual_seed(params.seed)
            out = self.model.generate(
                input_ids=input_ids, attention_mask=torch.ones_like(input_ids), streamer=streamer, **kwargs
            )
        return [int(t) for t in out[0][len(ids) :]]

    def _finish(
        self, new_ids: list[int], params: SamplingParams, text: str, prompt_len: int
    ) -> tuple[str, str]:
        cut = _cut_at_stop(text, params.stop)
        if cut is not None:
            return text[:cut], "stop"
        eos = self.tokenizer.eos_token_id
        if new_ids and eos is not None and new_ids[-1] == eos:
            return text, "stop"
        limit = max(1, min(params.max_tokens, self.context_length - prompt_len))
        return text, "length" if len(new_ids) >= limit else "stop"

    def generate(self, ids: list[int], params: SamplingParams, adapter: str | None = None) -> Generation:
        """Generate a reply for prompt token ids (blocking), with attached ``adapter`` active or the base alone."""
        criteria = [_StopOnStrings(self.tokenizer, len(ids), params.stop)] if params.stop else []
        new_ids = self._run(ids, params, criteria, adapter=adapter)
        text = self.tokenizer.decode(new_ids, skip_special_tokens=True)
        text, reason = self._finish(new_ids, params, text, len(ids))
        return Generation(text, len(ids), len(new_ids), reason)

    def stream(self, ids: list[int], params: SamplingParams, adapter: str | None = None) -> StreamHandle:
        """Start generating in a thread; iterate the handle for text pieces (blocking iterator)."""
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600
        )
        handle = StreamHandle(self, ids, params, streamer, adapter)
        handle.start()
        return handle


class StreamHandle:
    """Text pieces of one streamed generation, with stop strings applied; ``result`` once exhausted."""

    def __init__(
        self,
        owner: LoadedModel,
        ids: list[int],
        params: SamplingParams,
        streamer: Any,
        adapter: str | None = None,
    ) -> None:
        self._owner, self._ids, self._params, self._streamer = owner, ids, params, streamer
        self._adapter = adapter
        self.cancelled = threading.Event()
        self._new_ids: list[int] = []
        self._error: BaseException | None = None
        self.result: Generation | None = None
        self._thread = threading.Thread(target=self._work, name="byom-generate", daemon=True)

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        return self._owner.limiter

    def start(self) -> None:
        self._thread.start()

    def _work(self) -> None:
        criteria: list[Any] = [_StopOnEvent(self.cancelled)]
        if self._params.stop:
            criteria.append(_StopOnStrings(self._owner.tokenizer, len(self._ids), self._params.stop))
        try:
            self._new_ids = self._owner._run(
                self._ids, self._params, criteria, streamer=self._streamer, adapter=self._adapter
            )
        except BaseException as exc:  # noqa: BLE001 - reported to the reader; never lost in a thread
            self._error = exc
            self._streamer.end()

    def __iter__(self) -> Iterator[str]:
        emitted = ""
        pending = ""
        stopped = False
        for piece in self._streamer:
            if stopped or not piece:
                continue
            pending += piece
            cut = _cut_at_stop(pending, self._params.stop)
            if cut is not None:
                if pending[:cut]:
                    emitted += pending[:cut]
                    yield pending[:cut]
                pending, stopped = "", True
                self.cancelled.set()
                continue
            keep = _held_back(pending, self._params.stop)
            ready, pending = pending[: len(pending) - keep], pending[len(pending) - keep :]
            if ready:
                emitted += ready
                yield ready
        self._thread.join()
        if self._error is not None:
            raise EngineError(f"Generation failed: {root_error_line(self._error)}") from self._error
        if pending and not stopped:
            emitted += pending
            yield pending
        if stopped:
            reason = "stop"
        else:
            _, reason = self._owner._finish(self._new_ids, self._params, emitted, len(self._ids))
        self.result = Generation(emitted, len(self._ids), len(self._new_ids), reason)


def _cut_at_stop(text: str, stops: list[str]) -> int | None:
    hits = [text.find(s) for s in stops if s and s in text]
    return min(hits) if hits else None


def _held_back(text: str, stops: list[str]) -> int:
    """How many trailing characters could be the start of a stop string (hold them back)."""
    best = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:n]):
                best = max(best, n)
                break
    return best


class _StopOnStrings:
    """Stop when the decoded continuation contains a stop string (checked on the tail only)."""

    def __init__(self, tokenizer: Any, prompt_len: int, stops: list[str]) -> None:
        self.tokenizer, self.prompt_len, self.stops = tokenizer, prompt_len, [s for s in stops if s]
        self.window = max((len(s) for s in self.stops), default=1) + 16

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        tail = input_ids[0][self.prompt_len :][-self.window :]
        text = self.tokenizer.decode(tail, skip_special_tokens=True)
        done = any(s in text for s in self.stops)
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


class _StopOnEvent:
    """Stop when the reader went away (client disconnected) or a stop string was streamed."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.full(
            (input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device
        )


class ModelPool:
    """Loaded models shared by deployments with the same weights and device (reference-counted)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[LoadSpec, LoadedModel] = {}
        self._refs: dict[LoadSpec, int] = {}
        self._loading: dict[LoadSpec, threading.Lock] = {}

    def acquire(self, spec: LoadSpec) -> LoadedModel:
        """Load ``spec`` (or reuse it) and count one more user; blocking, raises on load errors."""
        with self._lock:
            gate = self._loading.setdefault(spec, threading.Lock())
        with gate:
            with self._lock:
                if spec in self._models:
                    self._refs[spec] += 1
                    return self._models[spec]
            loaded = LoadedModel(spec)
            with self._lock:
                self._models[spec] = loaded
                self._refs[spec] = 1
                return loaded

    def release(self, spec: LoadSpec) -> None:
        """One user fewer; the weights are freed when none is left."""
        with self._lock:
            if spec not in self._refs:
                return
            self._refs[spec] -= 1
            if self._refs[spec] > 0:
                return
            del self._refs[spec]
            self._models.pop(spec, None)
        gc.collect()
        if spec.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()
        elif spec.device == "mps":
            import torch

            torch.mps.empty_cache()

    def loaded(self) -> list[LoadSpec]:
        with self._lock:
            return list(self._models)
