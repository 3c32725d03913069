"""What to do about a damaged weights file: where an intact copy comes from and how to verify it."""

from __future__ import annotations

from ._snapshot import DamagedWeights

__all__ = ["fresh_copy"]


def fresh_copy(d: DamagedWeights, folder: str) -> str:
    """How to get an intact copy of a damaged file and how to verify it, from what the folder says of its origin."""
    size = (
        f"exactly {d.expected_bytes:,} bytes (`ls -l {d.file}`)"
        if d.expected_bytes
        else "the original's size"
    )
    sha = f" and its sha256 is {d.sha256} (`sha256sum {d.file}`)" if d.sha256 else ""
    if d.hub_repo:
        rev = f" --revision {d.hub_revision}" if d.hub_revision else ""
        return (
            f"It came from the Hub repo {d.hub_repo}: fetch it again with `hf download {d.hub_repo} {d.file}{rev} "
            f"--force-download` (older clients: `huggingface-cli download ... --force-download`), then check it is "
            f"{size}{sha}; the Hub's file listing shows the size and sha256 of the good copy."
        )
    if d.hub_revision or d.sha256:
        at = f" at commit {d.hub_revision}" if d.hub_revision else ""
        return (
            f"This folder was filled by `hf download --local-dir`{at}: run the same command again for {d.file} with "
            f"`--force-download`, then check it is {size}{sha}."
        )
    return (
        f"This folder ({folder}) names no source for {d.file}. Copy the file again from where it came from (the run "
        f"that saved it, or its Hub repo: `hf download ORG/NAME {d.file} --force-download --local-dir DIR`), then "
        f"check the new copy is {size} — the size this file's own header requires — or compare its sha256 with the "
        "Hub's file listing (`sha256sum`)."
    )
