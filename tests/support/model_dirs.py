"""Model directories with one hostile entry, for the containment tests (``byom.contained``): a copy of the
session's tiny model whose file is a link to a secret outside it, to ``/proc/self/environ``, or a FIFO; and the
same model laid out as a Hugging Face cache snapshot (every file a link into ``../../blobs``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["CANARY", "LOADER_FILES", "as_hub_snapshot", "model_copy", "replace_with_link", "secret_file"]

# The secret's text: a canary, not a key shape, so that no redaction can hide a leak from the assertions.
CANARY = "byom-canary-3d9f1c-never-in-an-answer"

# Every file the tokenizer and chat-template loaders open from a local directory (transformers 5.x):
# AutoTokenizer reads tokenizer_config.json and config.json to pick the class; tokenization_utils_base adds
# added_tokens.json, special_tokens_map.json, tokenizer.json, chat_template.jinja and additional_chat_templates/
# *.jinja; tokenizer classes' vocab_files_names add vocab.json + merges.txt (BPE), vocab.txt (WordPiece),
# tokenizer.model (SentencePiece), tekken.json (Mistral); chat_template.json is the legacy template file and
# generation_config.json is read beside the model by the trainer and serving.
LOADER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "chat_template.json",
    "additional_chat_templates/tool_use.jinja",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "vocab.txt",
    "tokenizer.model",
    "tekken.json",
    "generation_config.json",
    "config.json",
)


def secret_file(directory: Path) -> Path:
    """A file outside every model directory holding the canary (as a chat template it would render whole)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "id_ed25519"
    path.write_text(f"{CANARY}\n" * 27)
    return path


def model_copy(tiny_model: Path, dest: Path) -> Path:
    """A private copy of the tiny model (real files, no links)."""
    return Path(shutil.copytree(tiny_model, dest))


def replace_with_link(directory: Path, name: str, target: Path | str) -> Path:
    """``directory/name`` (created or replaced, its folder made) as a symlink to ``target``; returns the link."""
    link = directory / name
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    os.symlink(target, link)
    return link


def as_hub_snapshot(tiny_model: Path, cache: Path) -> Path:
    """The tiny model as huggingface_hub caches it: models--org--tiny/snapshots/<sha>/<file> -> ../../blobs/<n>."""
    repo = cache / "models--org--tiny"
    snapshot = repo / "snapshots" / ("a" * 40)
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for i, path in enumerate(sorted(tiny_model.iterdir())):
        shutil.copyfile(path, repo / "blobs" / f"blob{i}")
        os.symlink(Path("..") / ".." / "blobs" / f"blob{i}", snapshot / path.name)
    return snapshot
