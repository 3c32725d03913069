"""The GPU check: one prepared command for the first machine with a GPU, short enough to finish in minutes.

    bench/gpu_check.sh            on a GPU: environment, byom vs TRL at SmolLM2-135M's and Llama-3.2-1B's shape
                                  (bf16, padding-free on both when flash-attn is installed), a few served completions
    bench/gpu_check.sh --dry      on the CPU, toy size, in seconds: the same code paths, so the script cannot rot
                                  (tests/engine/trainer/test_gpu_check.py runs it)

It prints one table at the end: each check, byom's figure, TRL's, and the ratio (byom / TRL; above 1 is faster).
Models are random weights made from a config (nothing is downloaded); TRL comes with `pip install -e .[bench]`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import trainer_throughput  # bench/ is not a package: the sibling script, by path

ROWS: list[tuple[str, str, str, str]] = []  # (check, byom, TRL, ratio)


def row(check: str, ours: str = "", trl: str = "", ratio: str = "") -> None:
    ROWS.append((check, ours, trl, ratio))
    print(f"  {check}: {ours} {trl} {ratio}".rstrip(), flush=True)


def environment(device: str) -> None:
    import torch

    from byom.engine.trainer._accel import probe

    smi = shutil.which("nvidia-smi")
    if smi:
        found = subprocess.run(
            [smi, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=False,
        )
        row("nvidia-smi", found.stdout.strip().replace("\n", "; ") or found.stderr.strip()[:80])
    row("torch", f"{torch.__version__}, CUDA {'available' if torch.cuda.is_available() else 'not available'}")
    if device == "cuda":
        row("GPU", torch.cuda.get_device_name(0), f"bf16 {'yes' if torch.cuda.is_bf16_supported() else 'no'}")
    for package in ("flash_attn", "liger_kernel", "trl"):
        row(package, "installed" if importlib.util.find_spec(package) else "not installed")
    row("byom trainer path", probe(torch.device(device)).describe())


def training(sizes: list[str], steps: int | None, device: str) -> None:
    for size in sizes:
        if importlib.util.find_spec("trl") is None:
            row(f"train {size}", "skipped", "TRL not installed", "pip install -e .[bench]")
            continue
        ours, trl = trainer_throughput.bench_size(
            size, steps or trainer_throughput.SIZES[size]["steps"], repeats=1, device=device
        )
        ours_tps, trl_tps = ours["tokens"] / ours["train_s"], trl["tokens"] / trl["train_s"]
        row(f"train {size}: tokens/s", f"{ours_tps:,.0f}", f"{trl_tps:,.0f}", f"{ours_tps / trl_tps:.2f}x")
        row(
            f"train {size}: peak RSS MiB",
            f"{ours['rss']:,.0f}",
            f"{trl['rss']:,.0f}",
            f"{ours['rss'] / trl['rss']:.2f}x",
        )
        row(
            f"train {size}: first/final loss",
            f"{ours['first_loss']:.3f}/{ours['last_loss']:.3f}",
            f"{trl['first_loss']:.3f}/{trl['last_loss']:.3f}",
        )


def serving(size: str, device: str, requests: int, max_tokens: int) -> None:
    """The engine's own serving code on this device: a few concurrent chat completions on a random model."""
    from byom.engine.deploy.host import LoadedModel, LoadSpec, SamplingParams

    with tempfile.TemporaryDirectory(prefix="byom-gpu-serve-") as tmp:
        model_dir = trainer_throughput.make_model(Path(tmp) / "model", size)
        t0 = time.perf_counter()
        loaded = LoadedModel(LoadSpec(path=str(model_dir), device=device))
        row(f"serve {size}: load s", f"{time.perf_counter() - t0:.2f}")
        params = SamplingParams(max_tokens=max_tokens, temperature=0.0)
        prompts = [
            loaded.encode_chat([{"role": "user", "content": f"Question {i}: what do bees make?"}])
            for i in range(requests)
        ]
        tokens: list[int] = []
        t0 = time.perf_counter()
        threads = [
            threading.Thread(
                target=lambda ids=ids: tokens.append(loaded.generate(ids, params).completion_tokens)
            )
            for ids in prompts
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        row(
            f"serve {size}: {requests} concurrent completions",
            f"{sum(tokens) / elapsed:,.0f} tokens/s",
            f"{elapsed:.2f} s",
        )
        if len(tokens) != requests:
            raise SystemExit(f"serving failed: {len(tokens)} of {requests} completions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry", action="store_true", help="CPU, toy size, seconds: checks the script itself")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per training run")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    if args.dry:
        device, sizes, serve_size, steps = "cpu", ["tiny"], "tiny", args.steps or 3
    elif not torch.cuda.is_available():
        raise SystemExit(
            "No CUDA GPU here. On a CPU, run `bench/gpu_check.sh --dry` (or bench/trainer_throughput.py)."
        )
    else:
        device, sizes, serve_size, steps = "cuda", ["smol", "1b"], "smol", args.steps
    print(f"== byom GPU check ({'dry run on the CPU' if args.dry else 'GPU'}) ==", flush=True)
    environment(device)
    training(sizes, steps, device)
    serving(serve_size, device, requests=4, max_tokens=8 if args.dry else 64)
    width = max(len(r[0]) for r in ROWS)
    print(f"\n{'check':<{width}}  {'byom':>28}  {'TRL':>20}  {'byom/TRL':>9}")
    for check, ours, trl, ratio in ROWS:
        print(f"{check:<{width}}  {ours:>28}  {trl:>20}  {ratio:>9}")


if __name__ == "__main__":
    main()
