"""Loaded models for serving: load (full weights, or a LoRA adapter on its base), generate, stream.

Generation is blocking and runs in worker threads; one lock per loaded model keeps requests
to the same weights in order. Remote code is never trusted.

Concurrent whole-answer generations (``generate``) are batched (``batching.py``): requests with the same adapter
and compatible sampling (``batch_key``) run in one left-padded ``model.generate``, each row stopping at its own
max tokens, stop strings or EOS (``_RowStops``), so a greedy answer is the one the prompt gets alone. Streams
(``stream``) keep one generation at a time: their tokens go to one reader as they come.

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
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from byom.contained import require_contained
from byom.data import load_tokenizer
from byom.engine.deploy.batching import DEFAULT_BATCHING, Batcher, Batching
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
    "batch_key",
]

log = logging.getLogger("byom.engine.deploy.inference")

# Tokenizing and generating take worker threads from their model's own limiter, never from anyio's
# default one (shared by every route): sixty chat requests then wait here, not in front of estimate-price.
# The limiter has these plus two batches' worth (``LoadedModel.__init__``): a full batch can gather while one runs.
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


@dataclass(frozen=True)
class _Request:
    """One whole-answer generation waiting for its batch."""

    ids: list[int]
    params: SamplingParams
    adapter: str | None


def batch_key(params: SamplingParams, adapter: str | None) -> Hashable:
    """Requests with equal keys may share one ``model.generate``; a fresh object runs alone.

    Greedy answers do not depend on their batch-mates (temperature, top_p, top_k unused; seeds irrelevant).
    Sampled ones share a batch at equal temperature, top_p and top_k, except with a seed: the answer a seed gives
    must not depend on who else was asking. A repetition penalty also reads the padding of a shorter prompt, so
    it runs alone too.
    """
    if params.repetition_penalty or (params.temperature > 0 and params.seed is not None):
        return object()
    if params.temperature <= 0:
        return (adapter, "greedy")
    return (adapter, params.temperature, params.top_p, params.top_k or None)


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

    def __init__(self, spec: LoadSpec, batching: Batching = DEFAULT_BATCHING) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        self.spec = spec
        self.lock = threading.Lock()
        self.adapters: set[str] = set()  # names of attached PEFT adapters (``load_adapter``)
        self.batcher: Batcher[_Request, Generation] = Batcher(self._generate_batch, self.lock, batching)
        self.limiter = anyio.CapacityLimiter(GENERATION_THREADS + 2 * batching.max_size)
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

    def _limit(self, prompt_len: int, params: SamplingParams) -> int:
        """The most new tokens a prompt of ``prompt_len`` tokens gets: its max_tokens, within the context."""
        return max(1, min(params.max_tokens, self.context_length - prompt_len))

    def _kwargs(self, params: SamplingParams, max_new: int, criteria: list[Any]) -> dict[str, Any]:
        from transformers import StoppingCriteriaList

        kwargs: dict[str, Any] = {
            "max_new_tokens": max_new,
            "do_sample": params.temperature > 0,
            "stopping_criteria": StoppingCriteriaList(criteria),
            "pad_token_id": self._pad_id(),
        }
        if params.temperature > 0:
            kwargs.update(temperature=params.temperature, top_p=params.top_p)
            if params.top_k:
                kwargs["top_k"] = params.top_k
        if params.repetition_penalty:
            kwargs["repetition_penalty"] = params.repetition_penalty
        return kwargs

    def _pad_id(self) -> int:
        """What fills a shorter prompt's left and a finished row's tail (masked or cut: any id would do)."""
        for token in (self.tokenizer.pad_token_id, self.tokenizer.eos_token_id):
            if token is not None:
                return int(token)
        return 0

    def _eos_ids(self) -> set[int]:
        """The ids ``model.generate`` ends a row at: its generation config's (int, list or none)."""
        eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        if eos is None:
            return set()
        return {int(e) for e in eos} if isinstance(eos, list | tuple) else {int(eos)}

    def _run(
        self,
        prompts: list[list[int]],
        params: list[SamplingParams],
        extra: tuple[Any, ...] = (),
        streamer: Any = None,
        on_end: Callable[[int, list[int]], None] | None = None,
    ) -> list[list[int]]:
        """Each prompt's new token ids from one ``model.generate``, called under ``self.lock`` with the adapter
        chosen. Prompts are left-padded with an attention mask; each row is cut where its own rule ended it
        (``_RowStops``, which calls ``on_end`` with a row's ids when it ends). Sampling settings are ``params[0]``'s:
        equal across a batch (``batch_key``)."""
        import torch

        width = max(len(ids) for ids in prompts)
        pad = self._pad_id()
        input_ids = torch.tensor(
            [[pad] * (width - len(ids)) + ids for ids in prompts], device=self.spec.device
        )
        mask = torch.tensor(
            [[0] * (width - len(ids)) + [1] * len(ids) for ids in prompts], device=self.spec.device
        )
        limits = [self._limit(len(ids), p) for ids, p in zip(prompts, params, strict=True)]
        rows = _RowStops(self.tokenizer, width, limits, [p.stop for p in params], self._eos_ids(), on_end)
        kwargs = self._kwargs(params[0], max(limits), [rows, *extra])
        with torch.inference_mode():
            if params[0].seed is not None:
                torch.manual_seed(params[0].seed)
            out = self.model.generate(input_ids=input_ids, attention_mask=mask, streamer=streamer, **kwargs)
        ends = [out.shape[1] if end is None else end for end in rows.ends]
        return [[int(t) for t in out[row, width:end].tolist()] for row, end in enumerate(ends)]

    def _answer(self, request: _Request, new_ids: list[int]) -> Generation:
        text = self.tokenizer.decode(new_ids, skip_special_tokens=True)
        text, reason = self._finish(new_ids, request.params, text, len(request.ids))
        return Generation(text, len(request.ids), len(new_ids), reason)

    def _finish(
        self, new_ids: list[int], params: SamplingParams, text: str, prompt_len: int
    ) -> tuple[str, str]:
        cut = _cut_at_stop(text, params.stop)
        if cut is not None:
            return text[:cut], "stop"
        eos = self.tokenizer.eos_token_id
        if new_ids and eos is not None and new_ids[-1] == eos:
            return text, "stop"
        return text, "length" if len(new_ids) >= self._limit(prompt_len, params) else "stop"

    def generate(self, ids: list[int], params: SamplingParams, adapter: str | None = None) -> Generation:
        """Generate a reply for prompt token ids (blocking), with attached ``adapter`` active or the base alone.
        Concurrent calls that may share a batch (``batch_key``) run together (``batching.py``)."""
        return self.batcher.submit(_Request(ids, params, adapter), batch_key(params, adapter))

    def _generate_batch(
        self, requests: list[_Request], deliver: Callable[[int, Generation], None]
    ) -> list[Generation]:
        """The batcher's run, under ``self.lock``: one generation for requests of one adapter; each answer is
        delivered as soon as its row ends, not when the longest one does."""

        answers: dict[int, Generation] = {}

        def ended(row: int, new_ids: list[int]) -> None:
            answers[row] = self._answer(requests[row], new_ids)
            deliver(row, answers[row])

        with self._adapter_context(requests[0].adapter):
            new = self._run([r.ids for r in requests], [r.params for r in requests], on_end=ended)
        return [answers.get(row) or self._answer(r, new[row]) for row, r in enumerate(requests)]

    def stream(self, ids: list[int], params: SamplingParams, adapter: str | None = None) -> StreamHandle:
        """Start generating in a thread; iterate the handle for text pieces (blocking iterator). Never batched:
        a stream runs alone under the model's lock, between batches."""
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
        owner = self._owner
        try:
            with owner.lock, owner._adapter_context(self._adapter):
                self._new_ids = owner._run(
                    [self._ids], [self._params], (_StopOnEvent(self.cancelled),), self._streamer
                )[0]
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


class _RowStops:
    """Each row of one ``model.generate`` ends on its own: at its token limit, at an EOS, or at a stop string in
    its decoded tail. ``ends`` holds the length where each row ended (``generate`` pads a row after that), and
    ``on_end`` gets the row's new ids then: its answer is final while the others go on."""

    def __init__(
        self,
        tokenizer: Any,
        prompt_len: int,
        limits: list[int],
        stops: list[list[str]],
        eos: set[int],
        on_end: Callable[[int, list[int]], None] | None = None,
    ) -> None:
        self.tokenizer, self.prompt_len, self.limits, self.eos = tokenizer, prompt_len, limits, eos
        self.on_end = on_end
        self.stops = [[s for s in row if s] for row in stops]
        self.windows = [max((len(s) for s in row), default=1) + 16 for row in self.stops]
        self.ends: list[int | None] = [None] * len(limits)

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        length = input_ids.shape[1]
        last = input_ids[:, -1].tolist()  # one read per step, not one per row (a GPU sync each)
        for row, end in enumerate(self.ends):
            if end is None and self._ended(row, input_ids, length - self.prompt_len, last[row]):
                self.ends[row] = length
                if self.on_end is not None:
                    self.on_end(row, input_ids[row, self.prompt_len :].tolist())
        return torch.tensor([end is not None for end in self.ends], dtype=torch.bool, device=input_ids.device)

    def _ended(self, row: int, input_ids: Any, new: int, last: int) -> bool:
        if new >= self.limits[row] or last in self.eos:
            return True
        if not self.stops[row]:
            return False
        tail = input_ids[row, self.prompt_len :][-self.windows[row] :]
        text = self.tokenizer.decode(tail, skip_special_tokens=True)
        return any(s in text for s in self.stops[row])


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

    def __init__(self, batching: Batching = DEFAULT_BATCHING) -> None:
        self.batching = batching  # how each loaded model batches concurrent generations
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
            loaded = LoadedModel(spec, self.batching)
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
