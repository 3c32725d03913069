"""Training throughput: byom's trainer subprocess vs a plain TRL SFTTrainer script, same model/data/hparams.

    python bench/trainer_throughput.py [--examples 128] [--epochs 2] [--hidden 256] [--layers 4]

Both run as subprocesses on the same tiny-ish Llama (random weights, made on the fly) with LoRA r=8
all-linear, batch 8, no packing, loss on assistant tokens only. Throughput counts the same thing for
both: non-pad tokens fed to the model during training, divided by the training wall time (first step
start to last step end). Time to first step is from process launch to the end of optimizer step 1.
Peak RSS and CPU time are each child's own (os.wait4). The machine may be shared: runs alternate
and each side's fastest is shown, so background load doesn't favour either.
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

TRL_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    t_launch = float(sys.argv[4])
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    model_dir, data, out = sys.argv[1], sys.argv[2], sys.argv[3]
    hp = json.loads(sys.argv[5])
    marks = {}

    class Clock(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            marks["train_begin"] = time.time()
        def on_step_end(self, args, state, control, **kw):
            marks.setdefault("first_step", time.time())
            marks["last_step"] = time.time()

    tok = AutoTokenizer.from_pretrained(model_dir)
    config = SFTConfig(
        output_dir=out, per_device_train_batch_size=hp["batch_size"], num_train_epochs=hp["epochs"],
        learning_rate=hp["lr"], lr_scheduler_type="linear", max_length=hp["max_len"], packing=False,
        assistant_only_loss=True, logging_steps=1, save_strategy="no", report_to="none", use_cpu=True,
        seed=42, dataloader_num_workers=0, disable_tqdm=True, max_grad_norm=1.0, weight_decay=0.0,
    )
    lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model_dir, args=config, train_dataset=load_dataset("json", data_files=data)["train"],
                         processing_class=tok, peft_config=lora, callbacks=[Clock()])
    tokens = sum(len(ids) for ids in trainer.train_dataset["input_ids"]) * hp["epochs"]
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    json.dump({"launch": t_launch, **marks, "tokens": tokens, "steps": trainer.state.global_step,
               "first_loss": losses[0], "last_loss": losses[-1]}, open(out + "/marks.json", "w"))
    """
)


def _wait_rss(proc: subprocess.Popen[bytes]) -> tuple[int, float, float]:
    """Wait for one child; return (exit code, its peak RSS in MiB, its CPU seconds)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def run_ours(work: Path, model: Path, data: Path, hp: dict) -> dict:
    from byom.engine.trainer import LoraSpec, TrainSpec

    job = work / "ours"
    job.mkdir(parents=True)
    spec = TrainSpec(
        job_id="bench",
        job_dir=job,
        from_hf_model=str(model),
        training_file=data,
        n_epochs=hp["epochs"],
        batch_size=hp["batch_size"],
        learning_rate=hp["lr"],
        lr_scheduler_type="linear",
        packing=False,
        max_seq_length=hp["max_len"],
        lora=LoraSpec(r=8, alpha=16),
        merge_lora=False,
        device="cpu",
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
    # Step 1 started when its metric line was written minus its own duration (tokens / tokens_per_second).
    v1 = steps[0]["values"]
    start = steps[0]["time"] - v1["train/tokens"] / v1["train/tokens_per_second"]
    tokens = sum(s["values"]["train/tokens"] for s in steps)
    return {
        "ttfs": steps[0]["time"] - launch,
        "train_s": steps[-1]["time"] - start,
        "tokens": tokens,
        "steps": len(steps),
        "rss": rss,
        "cpu": cpu,
        "first_loss": v1["train/loss"],
        "last_loss": steps[-1]["values"]["train/loss"],
        "total_s": time.time() - launch,
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
    return {
        "ttfs": m["first_step"] - launch,
        "train_s": m["last_step"] - m["train_begin"],
        "tokens": m["tokens"],
        "steps": m["steps"],
        "rss": rss,
        "cpu": cpu,
        "first_loss": m["first_loss"],
        "last_loss": m["last_loss"],
        "total_s": time.time() - launch,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2, help="alternate runs; report each side's fastest")
    args = parser.parse_args()
    from transformers.utils import logging as hf_logging

    from byom.engine.tiny import make_tiny_llama, write_overfit_dataset

    hf_logging.disable_progress_bar()

    hp = {"batch_size": 8, "epochs": args.epochs, "lr": 1e-3, "max_len": 256}
    with tempfile.TemporaryDirectory(prefix="byom-bench-") as tmp:
        work = Path(tmp)
        model = make_tiny_llama(work / "model", hidden=args.hidden, layers=args.layers, heads=8, kv_heads=4)
        data = write_overfit_dataset(work / "train.jsonl", n=args.examples)
        runs: dict[str, list[dict]] = {"ours": [], "trl": []}
        for i in range(args.repeats):  # alternate, so background load hits both sides alike
            runs["ours"].append(run_ours(work / f"r{i}", model, data, hp))
            runs["trl"].append(run_trl(work / f"r{i}", model, data, hp))
        ours, trl = (min(runs[k], key=lambda r: r["train_s"]) for k in ("ours", "trl"))
    print(
        f"model: Llama hidden={args.hidden} layers={args.layers} vocab=512, LoRA r=8 all-linear; "
        f"{args.examples} conversations x {args.epochs} epochs, batch {hp['batch_size']}, CPU "
        f"({os.cpu_count()} cores); fastest of {args.repeats} alternating runs each"
    )
    rows = [
        ("optimizer steps", "steps", "{:.0f}"),
        ("non-pad tokens trained", "tokens", "{:.0f}"),
        ("training wall time (s)", "train_s", "{:.2f}"),
        ("throughput (tokens/s)", "tps", "{:.0f}"),
        ("time to first step (s)", "ttfs", "{:.2f}"),
        ("whole run incl. startup (s)", "total_s", "{:.2f}"),
        ("process CPU time (s)", "cpu", "{:.2f}"),
        ("peak RSS (MiB)", "rss", "{:.0f}"),
        ("first / last step loss", "loss", "{}"),
    ]
    for r in (ours, trl):
        r["tps"] = r["tokens"] / r["train_s"]
        r["loss"] = f"{r['first_loss']:.3f} / {r['last_loss']:.3f}"
    print(f"{'':30} {'byom trainer':>16} {'TRL SFTTrainer':>16} {'byom/TRL':>10}")
    for label, key, fmt in rows:
        a, b = ours[key], trl[key]
        ratio = f"{a / b:.2f}x" if isinstance(a, (int, float)) and b else ""
        print(f"{label:30} {fmt.format(a):>16} {fmt.format(b):>16} {ratio:>10}")


if __name__ == "__main__":
    main()
