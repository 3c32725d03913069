"""byom's data checker next to the official SDK's ``check_file``, on the same generated conversation JSONL.

Each check runs in a fresh subprocess, so the peak RSS of one never mixes with the other's. Reported:
wall time and MB/s (the throughput), CPU time of the process and of its workers (steadier than wall on a shared
machine), the peak RSS of the process and of its largest worker. byom runs twice: in one process
(``workers=1``) and as it does by default (one worker a core for a file over 64 MiB).
The file: multi-turn conversations (system prompts, tool calls, weights, reasoning, some non-ASCII text),
about 2.5 KB a line, 3,000 distinct rows cycled. byom checks the full schema; the SDK 3.1.1 check is
structural only (UTF-8, one JSON object per line).

    python bench/data_check.py [--size-mb 200] [--repeats 3] [--big]   # --big: again at 2 GB
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

WORDS = [
    *[
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
    ],
    *[
        "assistant",
        "user",
        "system",
        "tool",
        "weather",
        "Paris",
        "Zürich",
        "naïve",
        "café",
        "東京",
        "def",
        "main():",
        "return",
        "42",
        "SELECT",
        "*",
        "FROM",
        "t;",
    ],
]

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
which, path = sys.argv[1], Path(sys.argv[2])
w, c = time.perf_counter(), time.process_time()
if which == "sdk":
    from together.lib.utils.files import check_file
    ok = check_file(path)["is_check_passed"]
else:
    from byom.data import check_file
    report = check_file(path, workers=None if which == "byom" else 1)
    ok = report.valid and report.nlines > 0
wall, cpu = time.perf_counter() - w, time.process_time() - c
# byom's workers are child processes: their CPU counts too, and the largest of them is its peak beside ours.
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
me = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"ok": ok, "wall": wall, "cpu": cpu + kids.ru_utime + kids.ru_stime,
                  "rss_mb": me.ru_maxrss / 1024, "child_rss_mb": kids.ru_maxrss / 1024}))
"""


def _text(r: random.Random, n: int) -> str:
    return " ".join(r.choice(WORDS) for _ in range(n))


def _row(r: random.Random) -> str:
    msgs: list[dict[str, object]] = []
    row: dict[str, object] = {}
    if r.random() < 0.6:
        msgs.append({"role": "system", "content": _text(r, r.randint(10, 40))})
    if r.random() < 0.15:
        row["tools"] = [
            {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
        ]
    for turn in range(r.randint(1, 4)):
        msgs.append({"role": "user", "content": _text(r, r.randint(5, 80))})
        if "tools" in row and turn == 0:
            call = {
                "id": "c1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
            msgs.append({"role": "assistant", "tool_calls": [call]})
            msgs.append({"role": "tool", "tool_call_id": "c1", "content": '{"temp": 21}'})
        answer: dict[str, object] = {"role": "assistant", "content": _text(r, r.randint(10, 200))}
        if r.random() < 0.1:
            answer["weight"] = 0
        if r.random() < 0.1:
            answer["reasoning"] = _text(r, 30)
        msgs.append(answer)
    row["messages"] = msgs
    return json.dumps(row, ensure_ascii=False)


def write_conversations(path: Path, size: int) -> Path:
    r = random.Random(0)
    pool = [(_row(r) + "\n").encode() for _ in range(3000)]
    written = i = 0
    with path.open("wb") as fh:
        while written < size:
            fh.write(pool[i % len(pool)])
            written += len(pool[i % len(pool)])
            i += 1
    return path


def _run(which: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, which, str(path)], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["ok"], f"{which} rejected the generated file"
    return result


def bench(path: Path, repeats: int) -> None:
    mb = path.stat().st_size / 2**20
    load = os.getloadavg()[0]
    # byom-1: one process (workers=1); byom: the default (one worker a core above 64 MiB).
    runs: dict[str, list[dict[str, float]]] = {"sdk": [], "byom-1": [], "byom": []}
    for _ in range(repeats):  # interleaved, so all see the same machine load
        for which, results in runs.items():
            results.append(_run(which, path))
    keys = ("wall", "cpu", "rss_mb", "child_rss_mb")
    med = {w: {k: statistics.median(r[k] for r in rs) for k in keys} for w, rs in runs.items()}
    # The load average says how quiet the machine was (a shared one: wall times move with it, CPU times less).
    load_range = f"load average {load:.2f} → {os.getloadavg()[0]:.2f}"
    print(f"\n{path.name}: {mb:.0f} MiB, median of {repeats}, {os.cpu_count()} cores, {load_range}")
    print(
        f"{'checker':10s} {'wall s':>8s} {'MB/s':>7s} {'x sdk':>6s} {'cpu s':>8s} {'x sdk':>6s}"
        f" {'peak RSS MB':>12s} {'worker MB':>10s}"
    )
    s = med["sdk"]
    for which, m in med.items():
        print(
            f"{which:10s} {m['wall']:8.2f} {mb / m['wall']:7.0f} {s['wall'] / m['wall']:6.2f}"
            f" {m['cpu']:8.2f} {s['cpu'] / m['cpu']:6.2f} {m['rss_mb']:12.0f} {m['child_rss_mb']:10.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big", action="store_true", help="also a 2 GB file, for peak memory (one run each)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench(
            write_conversations(Path(tmp) / f"conv-{args.size_mb}mb.jsonl", args.size_mb * 2**20),
            args.repeats,
        )
        if args.big:
            bench(write_conversations(Path(tmp) / "conv-2048mb.jsonl", 2048 * 2**20), 1)


if __name__ == "__main__":
    main()
