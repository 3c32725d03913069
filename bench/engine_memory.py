"""Peak memory of the local engine: idle, and while it runs a real (tiny) fine-tuning job.

Starts `python -m byom engine` on a free loopback port with a throwaway data dir, samples the RSS of
the engine process and of its trainer subprocess every 50 ms, and prints the peaks side by side.

    python bench/engine_memory.py [--idle-seconds 3] [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx2
import psutil

from byom.engine.tiny import make_tiny_llama, write_overfit_dataset

MiB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sampler(threading.Thread):
    """Peak RSS of the engine process and, separately, of everything it spawned."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.engine_peak = 0
        self.children_peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.engine_peak = max(self.engine_peak, self.proc.memory_info().rss)
                kids = sum(c.memory_info().rss for c in self.proc.children(recursive=True))
                self.children_peak = max(self.children_peak, kids)
            except psutil.Error:
                pass
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=3.0)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model_dir = make_tiny_llama(root / "tiny-llama")
        data = root / "train.jsonl"
        write_overfit_dataset(data)
        port, key = _free_port(), "bench-key"
        engine = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "byom",
                "engine",
                "--port",
                str(port),
                "--data-dir",
                str(root / "engine"),
                "--api-key",
                key,
                "--allow-dir",
                str(root),
            ],
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
                for _ in range(200):
                    try:
                        if http.get("/health").status_code == 200:
                            break
                    except httpx2.TransportError:
                        time.sleep(0.05)
                idle = Sampler(engine.pid)
                idle.start()
                time.sleep(args.idle_seconds)
                idle.stop.set()
                idle.join()

                busy = Sampler(engine.pid)
                busy.start()
                with data.open("rb") as fh:
                    up = http.post(
                        "/v1/files/upload",
                        files={"file": ("train.jsonl", fh)},
                        data={"purpose": "fine-tune", "file_name": "train.jsonl"},
                    )
                up.raise_for_status()
                file_id = up.json()["id"]
                while http.get(f"/v1/files/{file_id}").json().get("processing_status") != "COMPLETED":
                    time.sleep(0.1)
                job = http.post(
                    "/v1/fine-tunes",
                    json={
                        "model": "togethercomputer/llama-2-7b-chat",
                        "from_hf_model": str(model_dir),
                        "training_file": file_id,
                        "n_epochs": args.epochs,
                        "learning_rate": 1e-3,
                        "batch_size": 8,
                        "training_type": {"type": "Lora", "lora_r": 8, "lora_alpha": 16},
                    },
                )
                job.raise_for_status()
                job_id = job.json()["id"]
                started = time.perf_counter()
                status = "pending"
                while status not in ("completed", "error", "cancelled"):
                    time.sleep(0.2)
                    status = http.get(f"/v1/fine-tunes/{job_id}").json()["status"]
                elapsed = time.perf_counter() - started
                busy.stop.set()
                busy.join()
        finally:
            engine.terminate()
            engine.wait(timeout=30)

    print("local engine peak RSS (MiB)")
    print(f"  engine process, idle            {idle.engine_peak / MiB:8.1f}")
    print(f"  engine process, during a job    {busy.engine_peak / MiB:8.1f}")
    print(f"  trainer subprocess, during job  {busy.children_peak / MiB:8.1f}")
    print(f"  ratio engine busy / idle: {busy.engine_peak / max(idle.engine_peak, 1):.2f}")
    print(json.dumps({"job_status": status, "job_seconds": round(elapsed, 1)}))


if __name__ == "__main__":
    main()
