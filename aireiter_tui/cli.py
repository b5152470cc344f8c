"""The ``aireiter-tui`` command: argument parsing and the headless commands.

Plain ``aireiter-tui`` opens the dashboard; ``add``/``remove``/``list``/``query`` work on
the same watchlist and client from scripts; ``simulate`` runs the embedded simulator.
Exit status: 0 ok (``query``: completed), 1 task failed, 2 usage/config/auth error or
unknown task, 3 task pending or processing, 4 network or server error; 141 when whoever
reads the output closed it early (``| head``), as for a command killed by SIGPIPE.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from aireiter_tui import __version__
from aireiter_tui.domain import paths
from aireiter_tui.domain.config import ConfigError, Settings, load_settings
from aireiter_tui.domain.errors import (
    AIReiterError,
    AuthenticationError,
    InsecureURLError,
    TaskNotFoundError,
)
from aireiter_tui.domain.models import IdKind, Task, TaskStatus
from aireiter_tui.domain.sanitize import clean
from aireiter_tui.domain.watchlist import WatchlistError, WatchlistStore, parse_id_list

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ACTIVE, EXIT_NETWORK = 0, 1, 2, 3, 4
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE.value if hasattr(signal, "SIGPIPE") else 141


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aireiter-tui",
        description="A terminal dashboard for AIReiter image and video generation tasks.",
        epilog="Run `aireiter-tui --demo` to try it against the embedded simulator, no key needed.",
    )
    parser.add_argument("--version", action="version", version=f"aireiter-tui {__version__}")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="start the embedded simulator on 127.0.0.1 and watch its demo tasks",
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="config file (default: $AIREITER_TUI_CONFIG "
        "or $XDG_CONFIG_HOME/aireiter-tui/config.toml)",
    )
    parser.add_argument("--profile", help="use the [profiles.NAME] table of the config file")
    parser.add_argument("--base-url", help="API base URL (overrides config and AIREITER_BASE_URL)")
    parser.add_argument(
        "--watchlist",
        type=Path,
        help="watchlist file (default: "
        "$AIREITER_TUI_WATCHLIST or $XDG_DATA_HOME/aireiter-tui/watchlist.toml)",
    )
    parser.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow a plain-http base URL to a host other than this machine",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    add = commands.add_parser("add", help="add task IDs to the watchlist")
    add.add_argument("ids", nargs="+", metavar="ID")
    add.add_argument("--out", action="store_true", help="the IDs are out_task_ids")
    add.add_argument("--label", help="a label for the added tasks")

    remove = commands.add_parser("remove", help="remove task IDs from the watchlist")
    remove.add_argument("ids", nargs="+", metavar="ID")
    remove.add_argument("--out", action="store_true", help="the IDs are out_task_ids")

    listing = commands.add_parser("list", help="print the watchlist with last known statuses")
    listing.add_argument("--json", action="store_true", help="print JSON lines")

    query = commands.add_parser(
        "query",
        help="query one task once and print it",
        description="Query one task once and print it. Exit status: 0 completed, 1 failed, "
        "2 bad key, unknown task or usage error, 3 pending or processing, "
        "4 network or server error.",
    )
    query.add_argument("id", metavar="ID")
    query.add_argument("--out", action="store_true", help="the ID is an out_task_id")
    query.add_argument("--json", action="store_true", help="print the raw task JSON")

    from aireiter_tui.simulator import cli as simulator_cli

    simulate = commands.add_parser("simulate", help="run the AIReiter-compatible simulator")
    simulator_cli.add_arguments(simulate)
    return parser


def _settings(args: argparse.Namespace) -> tuple[Settings, Path]:
    config = args.config or paths.config_path()
    overrides: dict[str, object] = {}
    if args.base_url:
        overrides["base_url"] = args.base_url
    if args.allow_insecure_http:
        overrides["allow_insecure_http"] = True
    settings = load_settings(config, profile=args.profile, env=os.environ, overrides=overrides)
    if args.config and not config.exists():
        # Typed on the command line, a missing file is more likely a typo than a plan.
        missing = f"{config} does not exist: the defaults apply (picking a theme creates it)"
        settings = replace(settings, warnings=(*settings.warnings, missing))
    return settings, config


def _store(args: argparse.Namespace) -> WatchlistStore:
    if args.demo:
        return WatchlistStore(paths.demo_watchlist_path())
    return WatchlistStore(args.watchlist or paths.watchlist_path())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "simulate":
        from aireiter_tui.simulator import cli as simulator_cli

        return simulator_cli.run(args)
    try:
        settings, config = _settings(args)
    except ConfigError as error:
        print(f"aireiter-tui: {error}", file=sys.stderr)
        return EXIT_USAGE
    for warning in settings.warnings:
        print(f"aireiter-tui: warning: {warning}", file=sys.stderr)
    if args.command is None:
        return _dashboard(args, settings, config)
    try:
        status = _headless(args, settings)
        sys.stdout.flush()  # here, not at exit: a closed pipe must be caught here too
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except WatchlistError as error:
        print(f"aireiter-tui: {error}", file=sys.stderr)
        return EXIT_USAGE
    return status


def _headless(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "add":
        return _add(args, _store(args))
    if args.command == "remove":
        return _remove(args, _store(args))
    if args.command == "list":
        return _list(args, _store(args), sys.stdout)
    return asyncio.run(_query(args, settings, sys.stdout))


def _silence_stdout() -> None:
    """Point stdout at /dev/null: the interpreter flushes it at exit, and what is still
    buffered for the closed pipe would fail again as an "Exception ignored" message."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor behind stdout (embedded, tests)
        pass


def _dashboard(args: argparse.Namespace, settings: Settings, config: Path) -> int:
    from aireiter_tui.backend import Backend
    from aireiter_tui.ui.app import AIReiterApp

    simulator = None
    if args.demo:
        from aireiter_tui.simulator import Simulator

        simulator = Simulator(seed=7, speed=1.0)
    backend = Backend(settings, _store(args), config_path=config, simulator=simulator)
    app = AIReiterApp(backend)
    app.run()
    if app.final_error:
        print(f"aireiter-tui: {app.final_error}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _add(args: argparse.Namespace, store: WatchlistStore) -> int:
    from datetime import UTC, datetime

    from aireiter_tui.domain.watchlist import WatchEntry

    kind = IdKind.OUT_TASK_ID if args.out else IdKind.TASK_ID
    refs, rejected = parse_id_list(" ".join(args.ids), kind)
    for text, reason in rejected:
        print(f"aireiter-tui: not added {clean(text, max_length=80)!r}: {reason}", file=sys.stderr)
    entries = store.load()
    existing = {entry.ref for entry in entries}
    new = [ref for ref in refs if ref not in existing]
    now = datetime.now(UTC)
    # The file's entries first: a save puts the given entries before the others on disk,
    # and new tasks belong at the end of the list, as in the dashboard.
    added = [WatchEntry(ref=ref, label=args.label, added_at=now) for ref in new]
    store.save([*entries, *added])
    print(
        f"added {len(new)} task(s); {len(refs) - len(new)} already watched; "
        f"{len(rejected)} rejected ({store.path})"
    )
    return EXIT_USAGE if rejected and not refs else EXIT_OK


def _remove(args: argparse.Namespace, store: WatchlistStore) -> int:
    kind = IdKind.OUT_TASK_ID if args.out else IdKind.TASK_ID
    refs, rejected = parse_id_list(" ".join(args.ids), kind)
    entries = store.load()
    watched = {entry.ref for entry in entries}
    gone = {ref for ref in refs if ref in watched}
    store.save([entry for entry in entries if entry.ref not in gone], removed=gone)
    print(f"removed {len(gone)} task(s); {len(refs) - len(gone)} not watched")
    other = IdKind.TASK_ID if args.out else IdKind.OUT_TASK_ID
    watched_as_other = {e.ref.id for e in entries if e.ref.kind is other}
    for ref in refs:
        if ref not in gone and ref.id in watched_as_other:
            flag = "without --out" if args.out else "with --out"
            print(f"  {ref.id} is watched as an {other.value}: run remove {flag}", file=sys.stderr)
    return EXIT_USAGE if rejected or (refs and not gone) else EXIT_OK


def _list(args: argparse.Namespace, store: WatchlistStore, out: TextIO) -> int:
    for entry in store.load():
        task = entry.task
        if args.json:
            record = {
                "id": entry.ref.id,
                "kind": entry.ref.kind.value,
                "label": entry.label,
                "status": task.status_label if task else None,
                "model": task.model if task else None,
                "outputs": [o.url for o in task.outputs] if task else [],
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            status = task.status_label if task else "not fetched"
            label = f"  ({entry.label})" if entry.label else ""
            # Each field cleaned on its own so the tabs between them survive for scripts.
            fields = (entry.ref.id, entry.ref.kind.value, status + label)
            out.write("\t".join(clean(field, single_line=True) for field in fields) + "\n")
    return EXIT_OK


async def _query(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from aireiter_tui.backend import build_client

    if not settings.api_key:
        print(
            "aireiter-tui: no API key: set AIREITER_API_KEY or api_key in the config file",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        async with build_client(settings, concurrency=1) as client:
            kind = "out_task_id" if args.out else "task_id"
            task = await client.query(**{kind: args.id})
    except AIReiterError as error:
        print(f"aireiter-tui: {error.human()}", file=sys.stderr)
        if isinstance(error, AuthenticationError | TaskNotFoundError | InsecureURLError):
            return EXIT_USAGE
        return EXIT_NETWORK
    _print_task(task, out, as_json=args.json)
    if task.status is TaskStatus.COMPLETED:
        return EXIT_OK
    if task.status is TaskStatus.FAILED:
        return EXIT_FAILED
    return EXIT_ACTIVE


def _print_task(task: Task, out: TextIO, *, as_json: bool) -> None:
    if as_json:
        out.write(json.dumps(task.raw, ensure_ascii=False, indent=2) + "\n")
        return
    lines = [
        ("task_id", task.task_id or ""),
        ("status", task.status_label),
        ("model", task.model or ""),
        ("prompt", task.prompt or ""),
        ("created", task.created_at.isoformat() if task.created_at else ""),
        ("completed", task.completed_at.isoformat() if task.completed_at else ""),
        ("credits", "" if task.credits_used is None else f"{task.credits_used:g}"),
    ]
    if task.failure:
        lines.append(("error", task.failure.message))
    lines += [(f"output {n}", o.url) for n, o in enumerate(task.outputs, 1)]
    for name, value in lines:
        if value:
            out.write(f"{name:>10}  {clean(value, max_length=2000, single_line=True)}\n")
