"""Upload throughput to the local engine: byom's client next to the official `together` SDK, in one run.

Both sides do the same three-step upload (POST /v1/files with the SHA-256 → PUT the bytes → preprocess) to
the same engine process over loopback, with the same file sizes; the SDK runs with check=False because
byom checks data in its own step (check_training_data), not inside the upload. Every upload is a distinct
file (a unique first line), so no side is answered by the 409 dedupe.

    python bench/upload_throughput.py [--sizes-mb 20,200] [--repeats 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import together

from byom.together import TogetherClient

sys.path.insert(0, str(Path(__file__).parent))
from _engine import KEY, engine_process

ROW = (
    json.dumps(
        {
            "messages": [
                {"role": "user", "content": "What is the capital of France? " * 4},
                {"role": "assistant", "content": "Paris. " * 20},
            ]
        }
    )
    + "\n"
)


def _write(path: Path, size: int) -> Path:
    first = (
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": str(uuid.uuid4())},
                    {"role": "assistant", "content": "ok"},
                ]
            }
        )
        + "\n"
    )
    block = (ROW * 1000).encode()
    with path.open("wb") as fh:
        fh.write(first.encode())
        written = len(first)
        while written < size:
            fh.write(block)
            written += len(block)
    return path


async def _ours(base: str, path: Path) -> float:
    async with TogetherClient(api_key=KEY, base_url=base) as client:
        t = time.perf_counter()
        await client.upload_file(path)
        return time.perf_counter() - t


def _sdk(base: str, path: Path) -> float:
    client = together.Together(api_key=KEY, base_url=base)
    t = time.perf_counter()
    client.files.upload(file=path, purpose="fine-tune", check=False)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", default="20,200")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sizes = [int(s) for s in args.sizes_mb.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows = []
        with engine_process(root) as (base, _):
            # Warm both sides (imports, connection set-up) on a small file first.
            asyncio.run(_ours(base, _write(root / "warm-a.jsonl", 2**20)))
            _sdk(base, _write(root / "warm-b.jsonl", 2**20))
            for mb in sizes:
                ours, sdk = [], []
                for i in range(args.repeats):
                    # Alternate the order so neither side always runs on a warmer page cache.
                    a = _write(root / f"a{mb}-{i}.jsonl", mb * 2**20)
                    b = _write(root / f"b{mb}-{i}.jsonl", mb * 2**20)
                    if i % 2 == 0:
                        ours.append(asyncio.run(_ours(base, a)))
                        sdk.append(_sdk(base, b))
                    else:
                        sdk.append(_sdk(base, b))
                        ours.append(asyncio.run(_ours(base, a)))
                    a.unlink()
                    b.unlink()
                rows.append((mb, statistics.median(ours), statistics.median(sdk)))
    print(f"{'size':>8} {'byom s':>8} {'SDK s':>8} {'byom MB/s':>10} {'SDK MB/s':>9} {'speed-up':>9}")
    for mb, o, s in rows:
        print(f"{mb:6d}MB {o:8.2f} {s:8.2f} {mb / o:10.1f} {mb / s:9.1f} {s / o:8.2f}×")
    print(
        f"(median of {args.repeats}; same engine process over loopback; SDK {together.__version__} with check=False)"
    )


if __name__ == "__main__":
    main()
