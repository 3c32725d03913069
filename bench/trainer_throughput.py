"""Training throughput: byom's trainer subprocess vs a plain TRL SFTTrainer script, with equal settings.

    python bench/trainer_throughput.py [--size tiny|smol|1b|both] [--steps N] [--repeats N] [--device cpu|cuda]

Both sides run as subprocesses on the same random-weight Llama (made on the fly, nothing downloaded) with
the same settings, set explicitly on both sides and printed in a settings table: fp32 on the CPU (TRL's
bf16 / fp16 off), gradient checkpointing off (TRL's default is on; byom's trainer has none), no packing,
LoRA r=8 alpha=16 dropout 0 all-linear, AdamW (torch.optim.AdamW) with a linear schedule and no warm-up,
grad-norm clipping at 1.0, no weight decay, loss on assistant tokens only, the same batch size, sequence
length, learning rate and number of steps. Two sizes:

- tiny: the tests' kind of model (hidden 256, 4 layers, vocab 512); short conversations, batch 8, max 256
  tokens. Per-step overhead dominates here.
- smol: SmolLM2-135M's shape (hidden 576, intermediate 1536, 30 layers, 9 heads / 3 kv heads, vocab 49152,
  tied embeddings); conversations long enough to fill 512-token sequences, batch 1, 4 steps (so the
  whole bench stays near 10 minutes on 2 cores).
- 1b: Llama-3.2-1B's shape (hidden 2048, intermediate 8192, 16 layers, 32 / 8 heads, vocab 128256, tied), for a
  GPU (bench/gpu_check.sh): batch 4 of 1,024-token sequences.

On ``--device cuda`` both sides train in bf16 (where the GPU has it) with the same attention kernel; with
flash-attn installed both are padding-free (TRL's ``padding_free=True``, byom's flattened micro-batches), as
byom.engine.trainer._accel decides for the engine.

Throughput counts the same thing for both: non-pad tokens fed to the model in optimizer steps 2..N,
divided by the wall time from the end of step 1 to the end of step N (step 1 is a warm-up, excluded).
Time to first step is from process launch to the end of step 1. Peak RSS and CPU time are each child's own
(os.wait4). The machine may be shared: runs alternate and each side's fastest is shown, so background
load doesn't favour either; the ratio of each alternating pair is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

# Settings both sides get. Per size: model shape, data, batch and sequence length, default step count.
LORA = {"r": 8, "alpha": 16, "dropout": 0.0, "targets": "all-linear"}
COMMON = {
    "lr": 1e-3,
    "scheduler": "linear",
    "warmup": 0,
    "max_grad_norm": 1.0,
    "weight_decay": 0.0,
    "seed": 42,
}
SIZES: dict[str, dict[str, Any]] = {
    "tiny": {
        "shape": {"hidden": 256, "intermediate": 512, "layers": 4, "heads": 8, "kv_heads": 4, "vocab": 512},
        "tie": False,
        "batch_size": 8,
        "max_len": 256,
        "steps": 32,
        "long": False,
    },
    "1b": {
        "shape": {
            "hidden": 2048,
            "intermediate": 8192,
            "layers": 16,
            "heads": 32,
            "kv_heads": 8,
            "vocab": 128256,
        },
        "tie": True,
        "batch_size": 4,
        "max_len": 1024,
        "steps": 8,
        "long": True,
    },
    "smol": {
        "shape": {
            "hidden": 576,
            "intermediate": 1536,
            "layers": 30,
            "heads": 9,
            "kv_heads": 3,
            "vocab": 49152,
        },
        "tie": True,
        "batch_size": 1,
        "max_len": 512,
        "steps": 4,
        "long": True,
    },
}

TRL_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    t_launch = float(sys.argv[4])
    import torch
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    model_dir, data, out = sys.argv[1], sys.argv[2], sys.argv[3]
    hp = json.loads(sys.argv[5])
    marks = {"steps": []}

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            marks["steps"].append((time.time(), state.num_input_tokens_seen))

    tok = AutoTokenizer.from_pretrained(model_dir)
    # Every setting that matters for speed is explicit, TRL's own defaults included (trl 1.x defaults
    # gradient_checkpointing=True and bf16=True; the optimizer defaults to fused AdamW on torch >= 2.8).
    gpu = hp["device"] == "cuda"
    config = SFTConfig(
        output_dir=out, use_cpu=not gpu, bf16=hp["dtype"] == "bfloat16", fp16=False,
        model_init_kwargs={"dtype": hp["dtype"], "attn_implementation": hp["attention"]},
        gradient_checkpointing=False, activation_offloading=False, torch_compile=False, use_liger_kernel=False,
        per_device_train_batch_size=hp["batch_size"], gradient_accumulation_steps=1, num_train_epochs=1,
        max_steps=-1, max_length=hp["max_len"], truncation_mode="keep_start", packing=False,
        padding_free=hp["padding_free"], pad_to_multiple_of=None, assistant_only_loss=True, loss_type="nll",
        learning_rate=hp["lr"], lr_scheduler_type=hp["scheduler"], warmup_steps=hp["warmup"],
        optim="adamw_torch", adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8,
        weight_decay=hp["weight_decay"], max_grad_norm=hp["max_grad_norm"], seed=hp["seed"],
        include_num_input_tokens_seen="non_padding", logging_steps=1, save_strategy="no", eval_strategy="no",
        report_to="none", dataloader_num_workers=0, disable_tqdm=True,
    )
    lora = LoraConfig(r=hp["lora"]["r"], lora_alpha=hp["lora"]["alpha"], lora_dropout=hp["lora"]["dropout"],
                      target_modules=hp["lora"]["targets"], task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model_dir, args=config, train_dataset=load_dataset("json", data_files=data)["train"],
                         processing_class=tok, peft_config=lora, callbacks=[Clock()])
    model = trainer.model
    effective = {
        "dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
        "gradient checkpointing": bool(getattr(model, "is_gradient_checkpointing", False)),
        "bf16 / fp16": f"{config.bf16} / {config.fp16}", "packing": config.packing, "max length": config.max_length,
        "attention": model.config._attn_implementation, "padding-free": config.padding_free,
        "batch size": config.per_device_train_batch_size, "learning rate": config.learning_rate,
        "schedule": f"{getattr(config.lr_scheduler_type, 'value', config.lr_scheduler_type)}, warmup {config.warmup_steps}",
        "optimizer": str(getattr(config.optim, "value", config.optim)),
        "trainable params": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }
    trainer.train()
    trainer.save_model(out + "/adapter")  # byom's trainer writes its adapter too
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    json.dump({"launch": t_launch, **marks, "effective": effective, "first_loss": losses[0],
               "last_loss": losses[-1]}, open(out + "/marks.json", "w"))
    """
)


def _wait_rss(proc: subprocess.Popen[bytes]) -> tuple[int, float, float]:
    """Wait for one child; return (exit code, its peak RSS in MiB, its CPU seconds)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def _timed(ends: list[tuple[float, int]], launch: float) -> dict:
    """From (end time, tokens of that step) per optimizer step: step 1 is the warm-up, steps 2..N are timed."""
    if len(ends) < 2:
        raise SystemExit("need at least 2 steps (step 1 is an untimed warm-up)")
    return {
        "ttfs": ends[0][0] - launch,
        "train_s": ends[-1][0] - ends[0][0],
        "tokens": sum(n for _, n in ends[1:]),
        "tokens_all": sum(n for _, n in ends),
        "steps": len(ends),
    }


def run_ours(work: Path, model: Path, data: Path, hp: dict) -> dict:
    from byom.engine.trainer import LoraSpec, TrainSpec

    job = work / "ours"
    job.mkdir(parents=True)
    spec = TrainSpec(
        job_id="bench",
        job_dir=job,
        from_hf_model=str(model),
        training_file=data,
        device=hp["device"],  # byom.engine.trainer._accel picks dtype and attention, as in the engine
        training_type="lora",
        lora=LoraSpec(r=hp["lora"]["r"], alpha=hp["lora"]["alpha"], dropout=hp["lora"]["dropout"]),
        n_epochs=1,
        batch_size=hp["batch_size"],
        gradient_accumulation_steps=1,
        max_seq_length=hp["max_len"],
        packing=False,
        train_on_inputs="auto",  # conversations: loss on assistant turns only
        learning_rate=hp["lr"],
        lr_scheduler_type=hp["scheduler"],
        warmup_ratio=hp["warmup"],
        min_lr_ratio=0.0,
        max_grad_norm=hp["max_grad_norm"],
        weight_decay=hp["weight_decay"],
        random_seed=hp["seed"],
        n_checkpoints=1,
        n_evals=0,
        merge_lora=False,
    )
    (job / "spec.json").write_text(spec.model_dump_json())
    launch = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-m", "byom.engine.trainer", str(job / "spec.json")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rc, rss, cpu = _wait_rss(proc)
    lines = [json.loads(x) for x in (job / "progress.jsonl").read_text().splitlines()]
    if rc != 0:
        raise SystemExit(f"our trainer failed: {[ln for ln in lines if ln['kind'] == 'error']}")
    steps = [ln for ln in lines if ln["kind"] == "metric" and "train/loss" in ln["values"]]
    start = next(ln for ln in lines if ln.get("type") == "training_start")
    trainable = int(start["trainable"])
    return {
        **_timed([(s["time"], s["values"]["train/tokens"]) for s in steps], launch),
        "rss": rss,
        "cpu": cpu,
        "first_loss": steps[0]["values"]["train/loss"],
        "last_loss": steps[-1]["values"]["train/loss"],
        "total_s": time.time() - launch,
        "effective": {
            "dtype": hp["dtype"],
            "gradient checkpointing": False,
            "bf16 / fp16": f"{hp['dtype'] == 'bfloat16'} / False",
            "packing": spec.packing,
            "max length": spec.max_seq_length,
            "attention": hp["attention"],
            "padding-free": hp["padding_free"],
            "batch size": spec.batch_size,
            "learning rate": spec.learning_rate,
            "schedule": f"{spec.lr_scheduler_type}, warmup {spec.warmup_ratio:g}",
            "optimizer": "adamw_torch",
            "trainable params": trainable,
        },
    }


def run_trl(work: Path, model: Path, data: Path, hp: dict) -> dict:
    out = work / "trl"
    out.mkdir(parents=True)
    script = work / "trl_sft.py"
    script.write_text(TRL_SCRIPT)
    launch = time.time()
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(model), str(data), str(out), str(launch), json.dumps(hp)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    err = proc.stderr.read() if proc.stderr else b""
    rc, rss, cpu = _wait_rss(proc)
    if rc != 0:
        raise SystemExit("TRL script failed:\n" + err.decode(errors="replace")[-3000:])
    m = json.loads((out / "marks.json").read_text())
    seen = [0] + [n for _, n in m["steps"]]  # cumulative non-pad tokens -> per step
    ends = [(t, seen[i + 1] - seen[i]) for i, (t, _) in enumerate(m["steps"])]
    return {
        **_timed(ends, launch),
        "rss": rss,
        "cpu": cpu,
        "first_loss": m["first_loss"],
        "last_loss": m["last_loss"],
        "total_s": time.time() - launch,
        "effective": m["effective"],
    }


def make_model(dest: Path, size: str) -> Path:
    """The size's random-weight Llama, with make_tiny_llama's tokenizer and chat template (vocab 512)."""
    from byom.engine.tiny import make_tiny_llama

    cfg = SIZES[size]
    s = cfg["shape"]
    if size == "tiny":
        return make_tiny_llama(
            dest, hidden=s["hidden"], layers=s["layers"], heads=s["heads"], kv_heads=s["kv_heads"]
        )
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    make_tiny_llama(dest)  # tokenizer, chat template, generation config; the model is replaced below
    tok = PreTrainedTokenizerFast.from_pretrained(dest)
    config = LlamaConfig(
        vocab_size=s["vocab"],  # the tokenizer uses the first 512 ids; the embedding has SmolLM2's 49152 rows
        hidden_size=s["hidden"],
        intermediate_size=s["intermediate"],
        num_hidden_layers=s["layers"],
        num_attention_heads=s["heads"],
        num_key_value_heads=s["kv_heads"],
        max_position_embeddings=2048,
        rope_theta=100000.0,
        rms_norm_eps=1e-5,
        tie_word_embeddings=cfg["tie"],
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    if size == "1b":
        model = model.to(
            torch.bfloat16
        )  # 2.5 GB on disk instead of 5; both sides load the dtype they train in
    model.save_pretrained(dest)
    return dest


def write_data(path: Path, n: int, long: bool) -> Path:
    """n conversations: the tiny overfit set, or (long) one question with an answer well past 512 tokens."""
    from byom.engine.tiny import _FACTS, write_overfit_dataset

    if not long:
        return write_overfit_dataset(path, n=n)
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            answer = " ".join(_FACTS[(i + k) % len(_FACTS)][1] for k in range(120))
            row = {
                "messages": [
                    {"role": "user", "content": "Tell me facts."},
                    {"role": "assistant", "content": answer},
                ]
            }
            out.write(json.dumps(row) + "\n")
    return path


ROWS = [
    ("optimizer steps (1 warm-up)", "steps", "{:.0f}"),
    ("non-pad tokens, all steps", "tokens_all", "{:.0f}"),
    ("non-pad tokens, timed steps", "tokens", "{:.0f}"),
    ("timed wall time (s)", "train_s", "{:.2f}"),
    ("throughput (tokens/s)", "tps", "{:.0f}"),
    ("time to first step (s)", "ttfs", "{:.2f}"),
    ("whole run incl. startup (s)", "total_s", "{:.2f}"),
    ("process CPU time (s)", "cpu", "{:.2f}"),
    ("peak RSS (MiB)", "rss", "{:.0f}"),
    ("first / final step loss", "loss", "{}"),
]


def hardware(device: str) -> dict[str, Any]:
    """What both sides get on this device: the engine's own choice (byom.engine.trainer._accel), given to TRL."""
    import torch

    from byom.engine.trainer._accel import probe

    accel = probe(torch.device(device))
    return {
        "device": device,
        "dtype": accel.dtype,
        "attention": accel.attention,
        "padding_free": accel.padding_free,
    }


def bench_size(size: str, steps: int, repeats: int, device: str = "cpu") -> tuple[dict, dict]:
    """Run both sides; print the comparison; return each side's fastest run."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    cfg = SIZES[size]
    hp = {
        **COMMON,
        **hardware(device),
        "lora": LORA,
        "batch_size": cfg["batch_size"],
        "max_len": cfg["max_len"],
    }
    with tempfile.TemporaryDirectory(prefix="byom-bench-") as tmp:
        work = Path(tmp)
        model = make_model(work / "model", size)
        # One epoch of steps x batch examples: exactly `steps` optimizer steps on both sides.
        data = write_data(work / "train.jsonl", steps * cfg["batch_size"], cfg["long"])
        runs: dict[str, list[dict]] = {"ours": [], "trl": []}
        for i in range(repeats):  # alternate, so background load hits both sides alike
            runs["ours"].append(run_ours(work / f"r{i}", model, data, hp))
            runs["trl"].append(run_trl(work / f"r{i}", model, data, hp))
    for r in runs["ours"] + runs["trl"]:
        r["tps"] = r["tokens"] / r["train_s"]
        r["loss"] = f"{r['first_loss']:.3f} / {r['last_loss']:.3f}"
    ours, trl = (max(runs[k], key=lambda r: r["tps"]) for k in ("ours", "trl"))
    s = cfg["shape"]
    print(
        f"\n== {size}: Llama hidden {s['hidden']}, intermediate {s['intermediate']}, {s['layers']} layers, "
        f"{s['heads']}/{s['kv_heads']} heads, vocab {s['vocab']}, tied embeddings {cfg['tie']}; "
        f"{steps} steps x batch {cfg['batch_size']}, max {cfg['max_len']} tokens; {_where(device)}; "
        f"fastest of {repeats} alternating runs each =="
    )
    print(f"{'settings (as each side ran)':30} {'byom trainer':>22} {'TRL SFTTrainer':>22}")
    for key in ours["effective"]:
        a, b = ours["effective"][key], trl["effective"].get(key)
        flag = "" if str(a) == str(b) else "  <- differs"
        print(f"{key:30} {a!s:>22} {b!s:>22}{flag}")
    print(f"{'LoRA':30} {'r8 a16 d0 all-linear':>22} {'r8 a16 d0 all-linear':>22}")
    print(f"{'loss on':30} {'assistant tokens':>22} {'assistant tokens':>22}")
    print(f"\n{'':30} {'byom trainer':>16} {'TRL SFTTrainer':>16} {'byom/TRL':>10}")
    for label, key, fmt in ROWS:
        a, b = ours[key], trl[key]
        ratio = f"{a / b:.2f}x" if isinstance(a, (int, float)) and b else ""
        print(f"{label:30} {fmt.format(a):>16} {fmt.format(b):>16} {ratio:>10}")
    pairs = [f"{o['tps'] / t['tps']:.2f}x" for o, t in zip(runs["ours"], runs["trl"])]
    print(f"{'tokens/s ratio per pair':30} {', '.join(pairs)}")
    sys.stdout.flush()
    return ours, trl


def _where(device: str) -> str:
    if device == "cuda":
        import torch

        return f"GPU {torch.cuda.get_device_name(0)}"
    return f"CPU ({os.cpu_count()} cores)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["tiny", "smol", "1b", "both"], default="both")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="optimizer steps per run, step 1 an untimed warm-up (default: tiny 32, smol 4, 1b 8)",
    )
    parser.add_argument("--repeats", type=int, default=2, help="alternate runs; report each side's fastest")
    args = parser.parse_args()
    for size in ("tiny", "smol") if args.size == "both" else (args.size,):
        bench_size(size, args.steps or SIZES[size]["steps"], args.repeats, args.device)


if __name__ == "__main__":
    main()
