"""`python -m byom.engine.trainer <spec.json>`: run one job, reporting through progress.jsonl."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from byom.data import decide_max_seq_length, load_tokenizer
from byom.engine.private import PRIVATE_UMASK
from byom.engine.trainer._accel import Acceleration, probe
from byom.engine.trainer._progress import ProgressWriter
from byom.engine.trainer._watchdog import EXIT_ORPHANED
from byom.engine.trainer.spec import TrainSpec
from byom.errors import TrainingError, root_error_line

__all__ = [
    "EXIT_BAD_SPEC",
    "EXIT_CANCELLED",
    "EXIT_FAILED",
    "EXIT_ORPHANED",
    "Prepared",
    "Stage",
    "main",
    "prepare",
    "unsupported_reason",
]

log = logging.getLogger("byom.engine.trainer")

EXIT_FAILED = 1
EXIT_BAD_SPEC = 2
EXIT_CANCELLED = 3


def unsupported_reason(spec: TrainSpec) -> str | None:
    """Why the local trainer can't run this spec (the engine answers 400 with it), or None."""
    if spec.batch_size < 1 or spec.gradient_accumulation_steps < 1 or spec.n_epochs < 1:
        return "batch_size, gradient_accumulation_steps and n_epochs must be at least 1."
    if spec.max_seq_length < 2:
        return "max_seq_length must be at least 2."
    if spec.n_checkpoints < 1:
        return "n_checkpoints must be at least 1 (the final checkpoint)."
    return None


class Stage:
    """Which stage failed, for the error line (download|initialization|training|saving)."""

    name = "initialization"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    # Checkpoints, outputs and progress lines are private like the rest of the data dir (0700 / 0600).
    os.umask(PRIVATE_UMASK)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    if len(args) != 1:
        print("usage: python -m byom.engine.trainer <spec.json>", file=sys.stderr)  # CLI usage line
        return EXIT_BAD_SPEC
    try:
        spec = TrainSpec.model_validate_json(Path(args[0]).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.error("bad spec: %s", root_error_line(exc))
        return EXIT_BAD_SPEC
    progress = ProgressWriter(spec.job_dir / "progress.jsonl")
    stage = Stage()
    try:
        return _run(spec, progress, stage)
    except BaseException as exc:  # noqa: BLE001 - every failure must reach the engine as a clear line
        from byom.engine.trainer._loop import Cancelled

        if isinstance(exc, Cancelled):
            progress.event(
                "job_stopped", f"Training stopped: {exc}. Completed checkpoints are kept.", level="warning"
            )
            return EXIT_ORPHANED if exc.orphaned else EXIT_CANCELLED
        if isinstance(exc, KeyboardInterrupt):
            progress.event(
                "job_stopped", "Training interrupted. Completed checkpoints are kept.", level="warning"
            )
            return EXIT_CANCELLED
        line = root_error_line(exc)
        log.error("trainer failed in %s:\n%s", stage.name, "".join(traceback.format_exception(exc)))
        progress.write("error", stage=stage.name, message=line, error_type=type(exc).__name__)
        progress.event("job_error", f"Job failed during {stage.name}: {line}", level="error")
        return EXIT_FAILED
    finally:
        progress.close()


def _quiet_libraries() -> None:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", category=FutureWarning)  # library deprecation chatter, not ours
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def _run(spec: TrainSpec, progress: ProgressWriter, stage: Stage) -> int:
    from byom.engine.trainer._loop import Stopper

    # First: SIGTERM, or the engine's death, during the heavy imports also stops us. An orphan that
    # cannot reach a step boundary in time says so in its progress file and flushes it before it is ended.
    def orphaned_exit() -> None:  # the watchdog's last act before it ends the process: say why, then flush
        progress.event(
            "job_stopped",
            "Training stopped: the engine process exited before a step boundary was reached. "
            "Completed checkpoints are kept.",
            level="warning",
        )
        progress.close()

    stopper = Stopper(on_orphaned_exit=orphaned_exit)
    reason = unsupported_reason(spec)
    if reason:
        raise TrainingError(reason)
    progress.event("job_start", f"Job {spec.job_id} started.")
    _quiet_libraries()
    import torch

    from byom.engine.trainer import _model
    from byom.engine.trainer._loop import train

    torch.manual_seed(spec.random_seed)
    ready = prepare(spec, progress, stage)
    spec, model_dir, device, tokenizer = ready.spec, ready.model_dir, ready.device, ready.tokenizer
    train_set, eval_set, objective = ready.train_set, ready.eval_set, ready.objective
    model = _model.load_model(spec, model_dir, device, ready.accel)
    param_count = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    stopper.check()

    # -- training ----------------------------------------------------------------------------
    stage.name = "training"
    what = (
        f"{trainable:,} LoRA adapter parameters beside the model's {param_count - trainable:,} frozen ones"
        if spec.training_type == "lora"
        else f"{trainable:,} of the model's {param_count:,} parameters"
    )
    progress.event(
        "training_start",
        f"Training {what} on {device.type} ({ready.accel.describe()}), {len(train_set)} sequences.",
        param_count=param_count,
        trainable=trainable,
    )
    result = train(spec, model, tokenizer, train_set, eval_set, objective, progress, stopper)
    progress.event(
        "training_complete",
        f"Training complete after {result.total_steps} steps.",
        total_steps=result.total_steps,
        token_count=result.tokens_seen,
    )

    # -- saving ------------------------------------------------------------------------------
    stage.name = "saving"
    # Saving is Together's "compressing" step; "uploading" is the engine's, registering what was saved.
    progress.event("model_compressing", "Saving the outputs.")
    outputs = _save_outputs(spec, model, tokenizer)
    progress.event("model_compression_complete", "Outputs saved.", model_path=str(spec.job_dir / "output"))
    progress.write(
        "result",
        outputs=outputs,
        token_count=result.tokens_seen,
        param_count=param_count,
        total_steps=result.total_steps,
    )
    progress.event("job_complete", f"Job {spec.job_id} complete.")
    return 0


@dataclass
class Prepared:
    """What ``prepare`` checked and loaded: everything training needs but the model's weights."""

    spec: TrainSpec
    model_dir: Path
    device: Any
    accel: Acceleration
    tokenizer: Any
    train_set: list[Any]
    eval_set: list[Any]
    objective: Any


def prepare(spec: TrainSpec, progress: ProgressWriter, stage: Stage) -> Prepared:
    """The trainer's checks, in its order: fetch and vet the model, check the files, tokenize them.

    Raises ``TrainingError`` with what is wrong and what to do; ``stage`` names where it stopped. It loads no
    weights and starts nothing, so a refused job is tested in-process.
    """
    from byom.config import load_settings
    from byom.data import check_file
    from byom.engine.trainer import _model

    # -- download ----------------------------------------------------------------------------
    stage.name = "download"
    progress.event("model_downloading", f"Fetching {spec.from_hf_model}.")
    token = load_settings().hf_token
    model_dir = _model.resolve_model_dir(spec, token.get_secret_value() if token else None)
    config = _model.check_no_remote_code(model_dir)
    ready = f"Model ready ({config.get('model_type')})."
    seq = decide_max_seq_length(spec.max_seq_length, config=config)
    if seq.value < spec.max_seq_length:
        # The engine caps at plan time when the model is on disk; a Hub model's context is only known here.
        ready += f" max_seq_length {spec.max_seq_length} is over this model's context ({seq.context}); training at {seq.value}."
        spec = spec.model_copy(update={"max_seq_length": seq.value})
    if spec.init_checkpoint is not None:
        # A continued job says what it continues from, so its events alone tell its lineage.
        ready += (
            f" Continuing from {spec.init_from or 'a checkpoint'} ({spec.init_checkpoint.name}): "
            "training starts from its weights."
        )
    progress.event("model_download_complete", ready)
    files = [("training", spec.training_file)] + (
        [("validation", spec.validation_file)] if spec.validation_file else []
    )
    for kind, path in files:
        progress.event(f"{kind}_data_downloading", f"Checking {kind} file {path.name}.")
        report = check_file(path, purpose="fine-tune" if kind == "training" else "eval")
        if not report.valid:
            raise TrainingError(f"The {kind} file is invalid: {report.error}")
        if (report.dataset_format == "preference") != (spec.method == "dpo"):
            raise TrainingError(
                "DPO needs preference data (input / preferred_output / non_preferred_output)."
                if spec.method == "dpo"
                else f"The {kind} file holds preference data, which trains with DPO; set the training method to "
                "DPO or use conversation, instruction or text data."
            )
        progress.event(
            f"{kind}_data_download_complete",
            f"{kind.capitalize()} file OK: {report.nlines} lines, {report.dataset_format} format.",
        )

    # -- initialization ----------------------------------------------------------------------
    stage.name = "initialization"
    device = _model.pick_device(spec.device)
    accel = probe(device)
    tokenizer = load_tokenizer(model_dir)
    train_set, eval_set, objective = _datasets(spec, tokenizer, device, accel, progress)
    return Prepared(spec, model_dir, device, accel, tokenizer, train_set, eval_set, objective)


def _datasets(
    spec: TrainSpec, tokenizer: Any, device: Any, accel: Acceleration, progress: ProgressWriter
) -> tuple[list, list, Any]:
    """Tokenize the training (and validation) file for the spec's method; pick the objective."""
    from byom.engine.trainer._objective import DPOObjective, SFTObjective
    from byom.engine.trainer._tokenize import load_examples, load_preference_pairs, pack

    def load(path: Path) -> tuple[list[Any], int]:
        if spec.method == "dpo":
            return load_preference_pairs(tokenizer, path, max_seq_length=spec.max_seq_length)
        return load_examples(
            tokenizer, path, train_on_inputs=spec.train_on_inputs, max_seq_length=spec.max_seq_length
        )

    train_set, dropped = load(spec.training_file)
    if not train_set:
        raise TrainingError(
            "No training example has any token to learn from (all masked, truncated or weight 0). "
            "Check message weights, train_on_inputs and max_seq_length."
        )
    if dropped:
        progress.event(
            "warning",
            f"{dropped} training examples have no trainable tokens and were skipped.",
            level="warning",
        )
    eval_set = load(spec.validation_file)[0] if spec.validation_file and spec.n_evals > 0 else []
    if spec.method == "dpo":
        # Preference pairs are never packed (each pair is scored as two whole sequences).
        return (
            train_set,
            eval_set,
            DPOObjective(spec.dpo_beta, tokenizer.pad_token_id, device, spec.batch_size),
        )
    if spec.packing:
        train_set = pack(train_set, spec.max_seq_length)
    return train_set, eval_set, SFTObjective(tokenizer.pad_token_id, device, padding_free=accel.padding_free)


def _save_outputs(spec: TrainSpec, model: object, tokenizer: object) -> dict[str, str | None]:
    from byom.engine.trainer._checkpoint import save_weights

    out = spec.job_dir / "output"
    outputs: dict[str, str | None] = {"adapter": None, "model": None, "merged": None}
    key = "adapter" if spec.training_type == "lora" else "model"
    dest = out / key
    shutil.rmtree(dest, ignore_errors=True)
    save_weights(model, tokenizer, dest)
    outputs[key] = str(dest)
    if spec.training_type == "lora" and spec.merge_lora:
        merged = model.merge_and_unload()  # type: ignore[attr-defined]
        save_weights(merged, tokenizer, out / "merged")
        outputs["merged"] = str(out / "merged")
    return outputs
