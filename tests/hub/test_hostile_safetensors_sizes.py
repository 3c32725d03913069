"""safetensors headers that claim absurd sizes: a clear corrupt-file error, read from the header alone, with
peak RSS within 50 MB of before and in well under a second (a 2**62-byte header is never allocated)."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import pytest
from test_hub_local import _write_model

from byom.hub import HubInspector

_BOUND = 50 << 20


def _rss(key: str) -> int:
    text = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) * 1024 for line in text.splitlines() if line.startswith(key + ":"))


def _tensor(**info: object) -> bytes:
    raw = json.dumps({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16], **info}}).encode()
    return struct.pack("<Q", len(raw)) + raw + b"\0" * 16


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (struct.pack("<Q", 2**62) + b"{}", "header, over the 25000000 limit"),
        (struct.pack("<Q", 20_000_000) + b'{"w": {}}', "truncated"),  # header longer than the file
        (_tensor(shape=[2**40, 2**40], data_offsets=[0, 16]), "corrupt"),
        (_tensor(data_offsets=[0, 2**60]), "corrupt"),
        (_tensor(dtype="X999", data_offsets=[0, 2**40]), "truncated"),  # unknown dtype, data past EOF
    ],
    ids=["length-2**62", "length-over-file", "shape-2**80", "offsets-2**60", "unknown-dtype-past-eof"],
)
def test_absurd_sizes_are_a_clear_finding_without_allocating_them(
    inspector: HubInspector, tmp_path: Path, content: bytes, expected: str
) -> None:
    directory = _write_model(tmp_path / "m", tensors=False)
    (directory / "model.safetensors").write_bytes(content)
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pytest.skip("cannot reset the peak RSS here")
    base, start = _rss("VmRSS"), time.monotonic()
    report = inspector.inspect(str(directory))
    assert time.monotonic() - start < 5 and _rss("VmHWM") - base < _BOUND
    # A finding (the other checks still run) that says what to do: get an intact copy and verify it.
    (finding,) = [f for f in report.findings if f.check == "weights_integrity"]
    assert report.verdict == "incompatible" and expected in finding.evidence and "copy" in (finding.fix or "")
