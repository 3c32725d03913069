"""Find the root error in a traceback, a log tail or an API error body.

A failed run prints its real error once and then the consequences: torchrun's ``ChildFailedError``
summary, NCCL "Some NCCL operations have failed" follow-ups on the other ranks, ``CalledProcessError``
from a launcher, "The above exception was the direct cause…" chains. The triage hints of
``failure-catalog.md`` §3: match the root line, not the wrappers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["MAX_LINE", "MAX_TEXT", "Block", "Root", "find_root"]

# A log tail is enough: the fatal error is at the end. Bounds the work on a pasted 10 MB log.
MAX_TEXT = 512 * 1024
MAX_LINE = 2000
_MAX_BLOCK_LINES = 4
_MAX_ERROR_LINES = 400
_MAX_PLAIN_LINES = 200

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Prefixes launchers and loggers put before a child's output: "[rank0]: ", "[default3]:", "rank1: ".
_PREFIX = re.compile(r"^\s*(?:\[(?:rank|default)\d+\]:|rank\d+:)\s?")
_EXC_START = re.compile(
    r"^(?P<type>(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Failure|Fault))(?::\s*(?P<msg>.*))?$"
)
# An exception quoted after a prefix: "Job failed during training: torch.OutOfMemoryError: CUDA out of…".
_EXC_EMBEDDED = re.compile(
    r"(?::|\])\s(?P<type>(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception)):\s(?P<msg>\S.*)$"
)
_CHAIN_LINK = re.compile(
    r"^(?:The above exception was the direct cause of the following exception|"
    r"During handling of the above exception, another exception occurred)",
    re.IGNORECASE,
)
_SECTION = re.compile(
    r"^(?:Traceback \(most recent call last\)|File \"|\s*File \"|={5,}|-{5,}|\[\d{4}-|\d{4}-\d\d-\d\d[ T]|"
    r"[EWIF]\d{4} |\w+Warning: |warnings\.warn|Root Cause|Failures:)",
)
_WRAPPER_TYPES = re.compile(r"(?:ChildFailedError|CalledProcessError|DistBackendError|SystemExit)$")
_FOLLOW_UP = re.compile(
    r"Some NCCL operations have failed or timed out|NCCL communicator was aborted|"
    r"To enable traceback see|Due to the asynchronous nature of CUDA kernels|"
    r"ProcessGroupNCCL's watchdog got stuck|Sending process \d+ closing signal|"
    r"failed \(exitcode: 1\)|exitcode\s*:\s*1\b|error_file\s*:|returned non-zero exit status",
    re.IGNORECASE,
)
_ROOT_SIGNS = re.compile(r"Watchdog caught collective operation timeout|SIGKILL|Signal 9|exitcode\s*:\s*-9")
_ERRORISH = re.compile(
    r"error|fail|fatal|killed|sigkill|signal \d|exit ?code|out of memory|timed? ?out|denied|forbidden|"
    r"unauthori[sz]ed|not found|invalid|cannot|can't|could ?n[o']t|unable|\bnan\b|exceed|insufficient|"
    r"limit|refused|rejected|mismatch|not supported|unsupported|no capacity|cancel",
    re.IGNORECASE,
)
_PY_WARNING = re.compile(r"\b\w*Warning: |^\s*warnings\.warn\(")
# A stack frame's file: Python's 'File "…", line N', IPython's 'File /…/x.py:N, in f', rich's '/…/x.py:N in f'.
_FRAME = re.compile(
    r'^\s*(?:File "(?P<quoted>[^"]+)", line \d+|File (?P<bare>\S+\.py):\d+|(?P<rich>\S+\.py):\d+ in )'
)
# IPython's header line: "UndefinedError          Traceback (most recent call last)".
_IPYTHON_EXC = re.compile(r"^(?P<type>[A-Z]\w*(?:Error|Exception))\s+Traceback \(most recent call last\)")
_MAX_STACK = 80


@dataclass(frozen=True)
class Block:
    """An exception line with its continuation lines (a message can span lines), or one error line."""

    text: str
    exc_type: str | None = None
    wrapper: bool = False

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0]


@dataclass
class Root:
    """What a text says went wrong, most significant first."""

    chain: list[Block] = field(default_factory=list)  # the fatal exception chain, innermost first
    # the other lines: error-looking ones first (newest first), then the rest
    error_lines: list[Block] = field(default_factory=list)
    truncated: bool = False
    # The fatal chain's exception types and stack-frame files (newest last): the hints' evidence when no
    # pattern matches the message itself. An older traceback elsewhere in the log contributes nothing.
    stack: list[str] = field(default_factory=list)

    @property
    def line(self) -> str | None:
        """The root line to show when no pattern matches."""
        if self.chain:
            return self.chain[0].first_line
        return self.error_lines[0].text if self.error_lines else None  # the newest error-looking line


def _clean(text: str) -> tuple[list[str], bool]:
    truncated = len(text) > MAX_TEXT
    if truncated:
        text = text[-MAX_TEXT:]
        text = text.split("\n", 1)[1] if "\n" in text else text  # drop the cut-off first line
    lines = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _PREFIX.sub("", _ANSI.sub("", raw[: MAX_LINE * 2]))
        lines.append(line[:MAX_LINE].rstrip())
    return lines, truncated


def _exception_at(line: str) -> tuple[str, str] | None:
    """(type, message) when ``line`` is an exception line (at its start, or quoted after a prefix)."""
    stripped = line.strip()
    if not stripped or len(stripped) > MAX_LINE:
        return None
    found = _EXC_START.match(stripped)
    if found and (found.group("msg") is not None or stripped == found.group("type")):
        return found.group("type"), found.group("msg") or ""
    embedded = _EXC_EMBEDDED.search(stripped)
    if embedded and not _PY_WARNING.search(stripped):
        return embedded.group("type"), embedded.group("msg")
    return None


def _is_wrapper(exc_type: str | None, text: str) -> bool:
    if _ROOT_SIGNS.search(text):
        return False
    if exc_type is not None and _WRAPPER_TYPES.search(exc_type):
        return True
    return bool(_FOLLOW_UP.search(text))


def _block(lines: list[str], start: int, exc_type: str) -> tuple[Block, int]:
    """The exception block starting at ``lines[start]``; returns it and the index after it."""
    parts = [lines[start].strip()]
    i = start + 1
    blanks = 0
    while i < len(lines) and len(parts) < _MAX_BLOCK_LINES:
        line = lines[i]
        if not line.strip():
            blanks += 1
            if blanks > 1:
                break
            i += 1
            continue
        if _SECTION.match(line) or _CHAIN_LINK.match(line.strip()) or _exception_at(line):
            break
        if line.startswith("    "):  # a source line of a frame, never a message
            break
        parts.append(line.strip())
        blanks = 0
        i += 1
    text = "\n".join(parts)
    return Block(text=text, exc_type=exc_type, wrapper=_is_wrapper(exc_type, text)), i


def find_root(text: str) -> Root:
    """Split ``text`` into the fatal exception chain and the other error lines (see the module docstring)."""
    lines, truncated = _clean(text)
    chains: list[list[Block]] = []
    stacks: list[list[str]] = []  # per chain: the frames and exception types printed with it
    pending: list[str] = []  # frames seen since the last exception line
    linked = False
    i = 0
    while i < len(lines):
        line = lines[i]
        frame = _FRAME.match(line) or _IPYTHON_EXC.match(line)
        if frame:
            pending.append(next(v for v in frame.groupdict().values() if v))
        if _CHAIN_LINK.match(line.strip()):
            linked = True
            i += 1
            continue
        found = _exception_at(line)
        if found is None:
            i += 1
            continue
        block, i = _block(lines, i, found[0])
        entries = pending if block.wrapper else [*pending, found[0]]
        pending = []
        if linked and chains:
            chains[-1].append(block)
            stacks[-1].extend(entries)
        else:
            chains.append([block])
            stacks.append(entries)
        linked = False
    fatal = _fatal_index(chains)
    chain = _fatal_chain(chains[fatal]) if fatal is not None else []
    stack = stacks[fatal] if fatal is not None else pending
    in_chain = {b.first_line for b in chain}
    errorish: list[Block] = []
    plain: list[Block] = []
    seen: set[str] = set()
    for line in reversed(lines):
        stripped = line.strip()
        if (
            not stripped
            or stripped in seen
            or stripped in in_chain
            or _PY_WARNING.search(stripped)
            or stripped.startswith('File "')
        ):
            continue
        seen.add(stripped)
        if _ERRORISH.search(stripped):
            if len(errorish) < _MAX_ERROR_LINES:
                errorish.append(Block(text=stripped, wrapper=_is_wrapper(None, stripped)))
        elif len(plain) < _MAX_PLAIN_LINES:
            plain.append(Block(text=stripped))
        if len(errorish) >= _MAX_ERROR_LINES and len(plain) >= _MAX_PLAIN_LINES:
            break
    # Error-looking lines first (newest first), then the others; wrapper lines (elastic summaries, NCCL
    # follow-ups) after every other line.
    error_lines = sorted(errorish, key=lambda b: b.wrapper) + plain
    return Root(chain=chain, error_lines=error_lines, truncated=truncated, stack=stack[-_MAX_STACK:])


def _fatal_index(chains: list[list[Block]]) -> int | None:
    """Which chain is fatal: the last one that is not only wrappers (else the last one)."""
    if not chains:
        return None
    real = [i for i, c in enumerate(chains) if not all(b.wrapper for b in c)]
    return (real or [len(chains) - 1])[-1]


def _fatal_chain(chain: list[Block]) -> list[Block]:
    """The fatal chain innermost exception first: Python prints a chain's cause first; wrappers go last."""
    return sorted(chain, key=lambda b: b.wrapper)
