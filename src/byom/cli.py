"""Command line: `byom-mcp` (the MCP server on stdio) and `byom` (subcommands for people)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from byom import __version__
from byom.errors import ByomError

__all__ = ["main", "mcp_main"]


def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING - 10 * min(verbosity, 2)
    # stderr only: on stdio, stdout is the MCP wire.
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _run_mcp(
    http: bool, host: str, port: int, allowed_hosts: Sequence[str] = (), *, no_auth: bool = False
) -> None:
    from byom.config import load_settings
    from byom.server import build_server

    settings = load_settings()
    if not http:
        build_server(settings).run()
        return
    import uvicorn

    from byom.http_auth import http_app, resolve_auth

    # Refuses --no-auth off loopback (and creates the token file) before anything listens.
    auth = resolve_auth(host, settings, no_auth=no_auth)
    app = http_app(build_server(settings), host, port, auth, settings, allowed_hosts)
    # Where it listens and where the token is are news, not warnings: show INFO for byom even without -v.
    log = logging.getLogger("byom")
    log.setLevel(min(logging.INFO, logging.getLogger().level))
    log.info("byom-mcp: streamable HTTP on http://%s:%d/mcp", host, port)
    if auth.token is None:
        log.warning(
            "byom-mcp: --no-auth: NO TOKEN IS CHECKED. Every user and process on this machine can drive the "
            "tools: read what you can read, start jobs, delete endpoints. Drop --no-auth unless you are alone here."
        )
    else:
        log.info("byom-mcp: clients send 'Authorization: Bearer <token>'; the token is %s", auth.where)
    # uvicorn's access log prints whole URLs (a query string can hold a credential): BearerGate logs instead.
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info")


def _emit(model: object, text: str, as_json: bool) -> None:
    from pydantic import BaseModel

    assert isinstance(model, BaseModel)
    if as_json:
        print(json.dumps(model.model_dump(mode="json"), indent=2))
    else:
        print(text)


def _cmd_inspect(args: argparse.Namespace) -> None:
    from byom.catalog import load_catalog, with_template_finding
    from byom.config import load_settings
    from byom.hub import HubInspector, render_report

    settings = load_settings()
    report = HubInspector(settings).inspect(args.model, args.revision)
    report = with_template_finding(report, asyncio.run(load_catalog(settings)))
    _emit(report, render_report(report), args.json)


def _cmd_recommend(args: argparse.Namespace) -> None:
    from byom.catalog import load_catalog, recommend_for_report, render_recommendation
    from byom.config import load_settings
    from byom.hub import HubInspector

    settings = load_settings()
    report = HubInspector(settings).inspect(args.model, args.revision)
    catalog = asyncio.run(load_catalog(settings))
    rec = recommend_for_report(
        report,
        catalog,
        training_type=args.training_type,
        max_seq_length=args.max_seq_length,
        method=args.method,
        local_engine=settings.backend == "local" and not args.together,
    )
    _emit(rec, render_recommendation(rec), args.json)


def _cmd_check_data(args: argparse.Namespace) -> None:
    from byom.data import check_training_file, load_counting_tokenizer, load_model_config, render_data_check

    tokenizer = load_counting_tokenizer(args.model) if args.model else None
    check = check_training_file(
        args.file,
        tokenizer=tokenizer,
        tokenizer_name=args.model,
        model_config=load_model_config(args.model) if args.model else None,
        max_seq_length=args.max_seq_length,
        preview_rows=args.preview_rows,
        purpose=args.purpose,
        max_problems=args.max_problems,
        method=args.method,
        write_converted=args.write_converted,
    )
    print(check.model_dump_json(indent=2) if args.json else render_data_check(check))
    if not check.report.valid:
        sys.exit(1)


def _cmd_demo(args: argparse.Namespace) -> None:
    from byom.demo import DemoError, run_demo

    try:
        run_demo(args.png, keep=args.keep)
    except DemoError as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        sys.exit(1)


def _cmd_engine(args: argparse.Namespace) -> None:
    from byom.config import load_settings
    from byom.engine.service import serve

    # The engine says where it listens and where its key file is: show INFO even without -v.
    logging.getLogger("byom").setLevel(min(logging.INFO, logging.getLogger().level))
    serve(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        api_key=args.api_key,
        settings=load_settings(),
        allow_dirs=tuple(args.allow_dir),
        device=args.device,
        max_batch_size=args.max_batch_size,
        batch_window_s=args.batch_window_ms / 1000,
    )


def _cmd_doctor(args: argparse.Namespace) -> None:
    from byom.doctor import diagnose, render_doctor

    report = diagnose()
    _emit(report, render_doctor(report), args.json)
    if not report.ok:
        sys.exit(1)


def _at_least(minimum: int, kind: Callable[[str], float]) -> Callable[[str], float]:
    """An argparse type: a number of ``kind`` no less than ``minimum``."""

    def parse(raw: str) -> float:
        try:
            value = kind(raw)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            whole = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{raw!r}: give {whole} of at least {minimum}")
        return value

    return parse


def _add_http_flags(parser: argparse.ArgumentParser) -> None:
    from byom.config import DEFAULT_MCP_HTTP_PORT

    parser.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="HTTP bind address (default: loopback only; clients always send the bearer token)",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_MCP_HTTP_PORT)
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="HTTP on loopback without a token: every local user can then drive the tools (refused elsewhere)",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a Host name clients use to reach a non-loopback --host (repeatable; also BYOM_MCP_ALLOWED_HOSTS)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="byom", description="Bring-your-own-model fine-tuning: MCP server, model checks, local engine."
    )
    parser.add_argument("--version", action="version", version=f"byom {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging on stderr (-vv: debug)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    mcp = sub.add_parser("mcp", help="run the MCP server (stdio by default)")
    _add_http_flags(mcp)
    mcp.set_defaults(func=lambda a: _run_mcp(a.http, a.host, a.port, a.allowed_host, no_auth=a.no_auth))

    inspect = sub.add_parser(
        "inspect", help="can this Hugging Face model be fine-tuned? (no weights downloaded)"
    )
    inspect.add_argument("model", help="org/name[@revision] or a local model directory")
    inspect.add_argument("--revision", default=None)
    inspect.add_argument("--json", action="store_true", help="print the structured report as JSON")
    inspect.set_defaults(func=_cmd_inspect)

    rec = sub.add_parser("recommend", help="pick the Together base model (template) for a custom model")
    rec.add_argument("model", help="org/name[@revision] or a local model directory")
    rec.add_argument("--revision", default=None)
    rec.add_argument("--training-type", choices=["lora", "full"], default="lora")
    rec.add_argument("--max-seq-length", type=int, default=None)
    rec.add_argument("--method", choices=["sft", "dpo"], default="sft")
    rec.add_argument(
        "--together",
        action="store_true",
        help="rank Together's bases even when the local engine is the backend",
    )
    rec.add_argument("--json", action="store_true", help="print the structured recommendation as JSON")
    rec.set_defaults(func=_cmd_recommend)

    chk = sub.add_parser(
        "check-data", help="check a training file (JSONL or Parquet) against Together's rules"
    )
    chk.add_argument("file", type=Path)
    chk.add_argument(
        "--model", default=None, help="a model dir or Hub id: token statistics and a loss preview"
    )
    chk.add_argument(
        "--max-seq-length",
        type=int,
        default=None,
        help="for the token statistics (default: the tokenizer's maximum)",
    )
    chk.add_argument("--purpose", choices=["fine-tune", "eval"], default="fine-tune")
    chk.add_argument(
        "--method",
        choices=["sft", "dpo"],
        default=None,
        help="the training method (dpo needs preference pairs)",
    )
    chk.add_argument(
        "--write-converted",
        type=Path,
        default=None,
        metavar="PATH",
        help="rows in another layout (TRL, ShareGPT, Alpaca…): write them in Together's format to this new .jsonl "
        "and check that copy (the original is left as it is)",
    )
    chk.add_argument("--max-problems", type=int, default=20, help="problems shown in full (all are counted)")
    chk.add_argument(
        "--preview-rows", type=int, default=2, help="rows shown in the loss preview (with --model)"
    )
    chk.add_argument("--json", action="store_true", help="print the report (and stats) as JSON")
    chk.set_defaults(func=_cmd_check_data)

    from byom.config import DEFAULT_ENGINE_PORT

    eng = sub.add_parser("engine", help="run the local fine-tuning engine (a Together-compatible API)")
    eng.add_argument("--host", default="127.0.0.1")
    eng.add_argument("--port", type=int, default=DEFAULT_ENGINE_PORT)
    eng.add_argument("--data-dir", type=Path, default=None, help="default: <user data dir>/byom/engine")
    eng.add_argument(
        "--api-key", default=None, help="default: BYOM_ENGINE_API_KEY, else a key generated on first start"
    )
    eng.add_argument(
        "--allow-dir",
        type=Path,
        action="append",
        default=[],
        help="a directory jobs may read local models from (repeatable; home and the data dir are always allowed)",
    )
    eng.add_argument(
        "--device", default="auto", help="auto (a CUDA GPU when present), cpu, cuda, cuda:1, ..."
    )
    from byom.engine.deploy.batching import DEFAULT_MAX_BATCH, DEFAULT_WINDOW_S

    eng.add_argument(
        "--max-batch-size",
        type=_at_least(1, int),
        default=DEFAULT_MAX_BATCH,
        help=f"concurrent completions of one model generated together (default {DEFAULT_MAX_BATCH}; 1: one at a time)",
    )
    eng.add_argument(
        "--batch-window-ms",
        type=_at_least(0, float),
        default=DEFAULT_WINDOW_S * 1000,
        help="how long a free model waits for more requests to batch (default %(default)s; 0: no wait)",
    )
    eng.set_defaults(func=_cmd_engine)

    demo = sub.add_parser(
        "demo",
        help="the whole conversation on a tiny model: inspect, check data, fine-tune, deploy, ask (no key, no network)",
    )
    demo.add_argument(
        "--png", type=Path, default=Path("byom-demo-loss.png"), help="where to write the loss curve"
    )
    demo.add_argument("--keep", action="store_true", help="keep the demo's work dir (model, data, logs)")
    demo.set_defaults(func=_cmd_demo)

    doc = sub.add_parser("doctor", help="check this machine and byom's setup; print each MCP host's config")
    doc.add_argument("--json", action="store_true", help="print the report as JSON")
    doc.set_defaults(func=_cmd_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        args.func(args)
    except ByomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # The reader went away (`byom check-data F --json | head`): stop quietly, as a pipe's writer does. Python's
        # own flush at exit would fail again on the closed pipe: point stdout at devnull first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)  # 128 + SIGPIPE, what a shell reports for such a writer


def mcp_main(argv: Sequence[str] | None = None) -> None:
    """`byom-mcp`: the MCP server on stdio, what an MCP host's config launches."""
    parser = argparse.ArgumentParser(prog="byom-mcp", description="byom-mcp MCP server (stdio).")
    parser.add_argument("--version", action="version", version=f"byom-mcp {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging on stderr")
    _add_http_flags(parser)
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    try:
        _run_mcp(args.http, args.host, args.port, args.allowed_host, no_auth=args.no_auth)
    except ByomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
