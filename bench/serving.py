"""Serving throughput: N concurrent chat completions against the real engine, batching on vs off, one run.

    python bench/serving.py [--sizes tiny,smol] [--clients 1,4,8] [--requests 3] [--max-tokens 32]
                                           [--device auto|cpu|cuda] [--rounds 1]

For each model size two engines run as processes on loopback ports, side by side: one with batching as it ships
(``--max-batch-size`` 8, a 2 ms gather window), one with batching off (``--max-batch-size 1``: one generation
at a time, as before batching). Bursts alternate between them, in rounds that swap the order, and each side's
fastest burst is shown: the machine may be shared, and load then slows a burst, never speeds it. The model is a random-weight Llama made on the fly
(nothing is downloaded), served on demand from its directory: tiny (the tests' model: hidden 64, 2 layers) and
smol (SmolLM2-135M's shape, as bench/trainer_throughput.py builds it). Each of N clients sends ``--requests``
greedy chat completions one after another (distinct prompts, ``max_tokens`` fixed); requests/s and completion
tokens/s are over the whole burst. Greedy answers must be the same with and without batching: the bench checks
that every answer matches, so the two sides did the same work.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent))
import trainer_throughput  # bench/ is not a package: the sibling script, by path
from _engine import KEY, engine_process

MODES = {"batched": [], "off": ["--max-batch-size", "1"]}


def _chat(http: httpx2.Client, model: str, prompt: str, max_tokens: int) -> dict[str, Any]:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    while True:
        r = http.post("/v1/chat/completions", json=body)
        if r.status_code == 503:  # the model loads on demand: the same request answers once it has
            time.sleep(float(r.headers.get("retry-after", "1")))
            continue
        r.raise_for_status()
        answer: dict[str, Any] = r.json()
        return answer


def burst(
    base: str, model: str, clients: int, requests: int, max_tokens: int
) -> tuple[float, dict[str, Any]]:
    """Wall seconds for ``clients`` threads each sending ``requests`` completions in turn; answers by prompt."""
    answers: dict[str, Any] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(clients + 1)

    def client(c: int) -> None:
        with httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=600) as http:
            start.wait()
            try:
                for r in range(requests):
                    prompt = f"Question {c}.{r}: what do bees make, and why?"
                    answers[prompt] = _chat(http, model, prompt, max_tokens)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise SystemExit(f"a request failed: {errors[0]!r}")
    return elapsed, answers


def bench_size(size: str, args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    """Both engines up at once, the model loaded in each; bursts alternate between them (fastest of each kept)."""
    model_dir = str(trainer_throughput.make_model(work / size, size))
    runs: dict[tuple[str, int], list[tuple[float, dict[str, Any]]]] = {}
    with contextlib.ExitStack() as stack:
        bases = {}
        for mode, flags in MODES.items():
            root = work / f"{size}-{mode}"
            base, _ = stack.enter_context(
                engine_process(root, allow_dir=work, flags=[*flags, "--device", args.device])
            )
            burst(base, model_dir, 1, 1, args.max_tokens)  # the on-demand load, and one untimed warm-up
            bases[mode] = base
        for round_ in range(args.rounds):
            for clients in args.clients:
                for mode in list(MODES) if round_ % 2 == 0 else list(reversed(MODES)):
                    runs.setdefault((mode, clients), []).append(
                        burst(bases[mode], model_dir, clients, args.requests, args.max_tokens)
                    )
    rows = []
    for clients in args.clients:
        row: dict[str, Any] = {"size": size, "clients": clients}
        texts = []
        for mode in MODES:
            elapsed, answers = min(runs[(mode, clients)], key=lambda run: run[0])  # each side's fastest round
            tokens = sum(a["usage"]["completion_tokens"] for a in answers.values())
            row[mode] = {"rps": len(answers) / elapsed, "tps": tokens / elapsed, "tokens": tokens}
            texts.append({p: a["choices"][0]["message"]["content"] for p, a in answers.items()})
        row["same_answers"] = texts[0] == texts[1]
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="tiny,smol", help="comma-separated: tiny, smol, 1b")
    parser.add_argument("--clients", default="1,4,8", help="comma-separated concurrent client counts")
    parser.add_argument("--requests", type=int, default=3, help="completions each client sends in turn")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument(
        "--device", default="auto", help="the engine's --device (auto: a CUDA GPU when present)"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternating rounds of both modes; fastest shown"
    )
    args = parser.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"cpus {os.cpu_count()}, load {load:.1f}, device {args.device}, {args.requests} requests per client, "
        f"max_tokens {args.max_tokens}, greedy"
    )
    header = f"{'size':<6}{'clients':>8}  {'req/s on':>9}{'req/s off':>10}  {'tok/s on':>9}{'tok/s off':>10}  ratio  same"
    print(header)
    with tempfile.TemporaryDirectory(prefix="byom-serving-") as tmp:
        for size in args.sizes.split(","):
            for row in bench_size(size, args, Path(tmp)):
                on, off = row["batched"], row["off"]
                print(
                    f"{row['size']:<6}{row['clients']:>8}  {on['rps']:>9.2f}{off['rps']:>10.2f}  "
                    f"{on['tps']:>9.1f}{off['tps']:>10.1f}  {on['tps'] / off['tps']:>4.2f}×  "
                    f"{'yes' if row['same_answers'] else 'NO'}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
