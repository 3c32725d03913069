"""Token statistics with a model: ``byom check-data FILE --model DIR`` vs a bare tokenizer script, cold.

The bare script is the floor for the same work: it loads the model's ``tokenizer.json`` with ``tokenizers``,
renders every row once with the model's chat template in a plain jinja2 environment and batch-encodes the
lot (no trained mask, no schema check, no report). byom's side is the whole command as a user runs it: the
schema check, the token statistics (trained mask and truncation included) and a two-row loss preview. Each run
is a fresh process, the two sides interleaved; printed: medians and the ratio. Then byom's warm throughput:
``token_stats`` on the same file in this process, the tokenizer loaded and one untimed call made.

The model is the tiny Llama (``byom.engine.tiny``: a byte-level BPE with a ChatML template); the file holds
2,000 conversations of ~1,340 tokens (a system prompt and four user/assistant turns).

``--big ROWS``: then a file of that many conversations (over ``STATS_ROWS``), counted warm both ways in one run:
as the check and the plan count it (1 row in every k tokenized, every row rendered once, the counts scaled) and
every row tokenized; printed: the times, their ratio and how far the estimate is from the full count.

    python bench/token_stats.py [--rows 2000] [--runs 3] [--big 90000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE = r"""
import json, sys
from pathlib import Path
import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer
model, data = Path(sys.argv[1]), Path(sys.argv[2])
tokenizer = Tokenizer.from_file(str(model / "tokenizer.json"))
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
env.add_extension(type("Generation", (jinja2.ext.Extension,), {
    "tags": {"generation"},
    "parse": lambda self, p: jinja2.nodes.CallBlock(
        self.call_method("_pass"), [], [], (next(p.stream), p.parse_statements(["name:endgeneration"], drop_needle=True))[1]),
    "_pass": lambda self, caller: caller(),
}))
template = env.from_string((model / "chat_template.jinja").read_text())
texts = []
with data.open("rb") as fh:
    for line in fh:
        row = json.loads(line)
        texts.append(template.render(messages=row["messages"], add_generation_prompt=False))
lengths = [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
print(sum(lengths))
"""

WORDS = [
    "the",
    "model",
    "should",
    "answer",
    "briefly",
    "and",
    "cite",
    "the",
    "source",
    "when",
    "asked",
    "about",
    "data",
    "format",
    "tokens",
    "training",
    "loss",
    "Paris",
    "Tokyo",
    "honey",
    "spider",
    "ocean",
    "Mars",
    "week",
    "ice",
    "Shakespeare",
    "cow",
    "Celsius",
    "continents",
    "capital",
    "France",
    "Japan",
    "fine-tuning",
    "adapts",
    "a",
    "pretrained",
    "model",
    "to",
    "a",
    "new",
    "task",
    "with",
    "a",
    "small",
    "dataset",
    "low-rank",
    "adapters",
]


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def write_conversations(path: Path, rows: int, seed: int = 0) -> None:
    """``rows`` conversations: a system prompt, then four user/assistant turns (~1,340 tiny-Llama tokens)."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        for _ in range(rows):
            messages = [{"role": "system", "content": _text(rng, 27)}]
            for _ in range(4):
                messages.append({"role": "user", "content": _text(rng, 40)})
                messages.append({"role": "assistant", "content": _text(rng, 74)})
            out.write(json.dumps({"messages": messages}) + "\n")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (all threads; steadier than wall on a shared machine) and stdout of a run."""
    start, cpu = time.perf_counter(), _cpu()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed, used = time.perf_counter() - start, _cpu() - cpu
    if done.returncode not in (0, 1):  # check-data exits 1 for an invalid file: this one is valid
        raise RuntimeError(f"{command[:3]} failed:\n{done.stderr[-2000:]}")
    return elapsed, used, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--big", type=int, default=0, help="also a file of this many rows: sampled vs every row"
    )
    args = parser.parse_args()

    from byom.data import iter_rows, load_counting_tokenizer, token_stats
    from byom.engine.tiny import make_tiny_llama

    env = {**os.environ, "TOKENIZERS_PARALLELISM": "true"}
    with tempfile.TemporaryDirectory(prefix="byom-bench-tokens-") as tmp:
        model = make_tiny_llama(Path(tmp) / "model")
        data = Path(tmp) / "train.jsonl"
        write_conversations(data, args.rows)
        sides = {
            "byom check-data": [
                sys.executable,
                "-m",
                "byom",
                "check-data",
                str(data),
                "--model",
                str(model),
                "--json",
            ],
            "bare script": [sys.executable, "-c", BARE, str(model), str(data)],
        }
        times: dict[str, list[float]] = {name: [] for name in sides}
        cpus: dict[str, list[float]] = {name: [] for name in sides}
        outputs: dict[str, str] = {}
        for _ in range(args.runs):
            for name, command in sides.items():
                elapsed, used, outputs[name] = _timed(command, env)
                times[name].append(elapsed)
                cpus[name].append(used)
        stats = json.loads(outputs["byom check-data"])["token_stats"]
        bare_total = int(outputs["bare script"])
        print(
            f"{args.rows} conversations, {stats['total_tokens']:,} tokens ({stats['mean']} a row; the bare script "
            f"counts {bare_total:,}), {data.stat().st_size / 2**20:.1f} MiB; cold, {args.runs} interleaved runs each"
        )
        for name, values in times.items():
            print(
                f"  {name:16s} wall median {statistics.median(values):6.2f} s (min {min(values):6.2f})   "
                f"CPU median {statistics.median(cpus[name]):6.2f} s"
            )
        for what, table in (("wall", times), ("CPU", cpus)):
            ratio = statistics.median(table["byom check-data"]) / statistics.median(table["bare script"])
            print(
                f"  ratio byom / bare, {what} (median): {ratio:.2f}  ({'OK' if ratio <= 2.5 else 'over'} the 2.5x goal)"
            )

        limit = stats["max_seq_length"]
        tokenizer = load_counting_tokenizer(model)
        token_stats(tokenizer, iter_rows(data), max_seq_length=limit)  # the first call compiles the template
        start, cpu = time.perf_counter(), time.process_time()
        warm = token_stats(tokenizer, iter_rows(data), max_seq_length=limit)
        elapsed, used = time.perf_counter() - start, time.process_time() - cpu
        print(
            f"  warm (tokenizer loaded, modules imported): {warm.total_tokens / elapsed / 1e6:.2f} M tokens/s wall "
            f"({elapsed:.2f} s), {warm.total_tokens / used / 1e6:.2f} M tokens per CPU second; goal 1 M/s"
        )
        if args.big:
            _sampled_vs_full(tokenizer, Path(tmp) / "big.jsonl", args.big, limit)


def _sampled_vs_full(tokenizer: object, path: Path, rows: int, limit: int) -> None:
    """A bigger file counted as the check counts it and with every row tokenized, warm, in this process."""
    from byom.data import _tokens, file_token_stats

    write_conversations(path, rows, seed=1)
    timed = {}
    shipped = _tokens.STATS_ROWS
    for name, cap in (("1 row in every k", shipped), ("every row", rows + 1)):
        _tokens.STATS_ROWS = cap  # read at each call: every row is tokenized under a cap over the file's rows
        start = time.perf_counter()
        stats = file_token_stats(tokenizer, path, max_seq_length=limit)
        timed[name] = (time.perf_counter() - start, stats)
    _tokens.STATS_ROWS = shipped
    (fast, est), (slow, full) = timed["1 row in every k"], timed["every row"]
    off = abs(est.total_tokens - full.total_tokens) / full.total_tokens
    print(
        f"{rows:,} conversations ({path.stat().st_size / 2**20:.0f} MiB), warm: 1 row in every {est.sampled_every} "
        f"tokenized {fast:.2f} s vs every row {slow:.2f} s = {slow / fast:.1f}x faster; total tokens "
        f"{est.total_tokens:,} vs {full.total_tokens:,} ({off:.2%} apart), processed "
        f"{est.processed_tokens:,} vs {full.processed_tokens:,}"
    )


if __name__ == "__main__":
    main()
