"""A damaged weights file is a finding, not an exception: an INCOMPATIBLE verdict with expected vs actual size and
the tensors affected, every other check still run, and a fix that says how to verify a new copy (from the Hub
when the folder says it came from there, never a bare "re-download" for a folder that names no source)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from test_hub_local import _write_model

from byom.hub import HubInspector

SHA = "a" * 64
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _cut(path: Path, keep: float = 2 / 3) -> tuple[int, int]:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return len(data), int(len(data) * keep)


def _integrity(report: object) -> list[object]:
    return [f for f in report.findings if f.check == "weights_integrity"]  # type: ignore[attr-defined]


def test_a_file_cut_to_two_thirds_is_an_incompatible_finding_and_every_other_check_runs(
    inspector: HubInspector, tmp_path: Path
) -> None:
    directory = _write_model(tmp_path / "cut")
    whole, kept = _cut(directory / "model.safetensors")
    report = inspector.inspect(str(directory))
    assert report.verdict == "incompatible"
    (finding,) = _integrity(report)
    assert finding.status == "fail"
    assert f"{kept:,} bytes on disk" in finding.evidence and f"needs {whole:,}" in finding.evidence
    assert f"expected {whole:,} bytes, found {kept:,}" in finding.evidence
    assert " of 11 tensors are cut off or missing" in finding.evidence
    # The header is intact, so the other checks keep their answers.
    checks = {f.check for f in report.findings}
    assert {"causal_lm", "weights_format", "context", "tokenizer", "chat_template"} <= checks
    assert report.param_count and report.max_context == 256
    # A folder that names no source: how to verify a new copy, not "re-download".
    assert "names no source" in finding.fix and f"exactly {whole:,} bytes" in finding.fix
    assert "re-download" not in (finding.fix + finding.evidence).lower()


def test_a_hugging_face_cache_snapshot_names_its_repo_revision_and_sha256(
    inspector: HubInspector, tmp_path: Path
) -> None:
    repo = tmp_path / "hub" / "models--acme--tiny"
    snapshot = _write_model(repo / "snapshots" / COMMIT)
    blobs = repo / "blobs"
    blobs.mkdir()
    (snapshot / "model.safetensors").rename(blobs / SHA)
    os.symlink(f"../../blobs/{SHA}", snapshot / "model.safetensors")
    whole, _ = _cut(blobs / SHA)
    (finding,) = _integrity(inspector.inspect(str(snapshot)))
    assert f"hf download acme/tiny model.safetensors --revision {COMMIT} --force-download" in finding.fix
    assert f"exactly {whole:,} bytes" in finding.fix and f"sha256 is {SHA}" in finding.fix


def test_a_local_dir_download_names_its_commit_and_sha256(inspector: HubInspector, tmp_path: Path) -> None:
    directory = _write_model(tmp_path / "dl")
    meta = directory / ".cache" / "huggingface" / "download"
    meta.mkdir(parents=True)
    (meta / "model.safetensors.metadata").write_text(f"{COMMIT}\n{SHA}\n1733400000.0\n")
    _cut(directory / "model.safetensors")
    (finding,) = _integrity(inspector.inspect(str(directory)))
    assert "hf download --local-dir" in finding.fix and COMMIT in finding.fix and SHA in finding.fix


def test_a_header_cut_short_is_a_finding_too(inspector: HubInspector, tmp_path: Path) -> None:
    directory = _write_model(tmp_path / "short")
    data = (directory / "model.safetensors").read_bytes()
    (directory / "model.safetensors").write_bytes(data[:20])
    report = inspector.inspect(str(directory))
    (finding,) = _integrity(report)
    assert report.verdict == "incompatible" and "shorter than its own" in finding.evidence
    assert {"causal_lm", "context"} <= {f.check for f in report.findings}


def test_a_damaged_adapter_is_a_finding(inspector: HubInspector, tmp_path: Path) -> None:
    base = _write_model(tmp_path / "base")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(
        json.dumps(
            {"base_model_name_or_path": str(base), "peft_type": "LORA", "r": 4, "target_modules": ["q_proj"]}
        )
    )
    (adapter / "adapter_model.safetensors").write_bytes((base / "model.safetensors").read_bytes()[:300])
    (finding,) = _integrity(inspector.inspect(str(adapter)))
    assert finding.evidence.startswith("adapter_model.safetensors is truncated")
