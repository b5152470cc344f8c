"""The ``aireiter-tui`` command: argument parsing and the headless commands.

Plain ``aireiter-tui`` opens the dashboard; ``add``/``remove``/``list``/``query`` work on
the same watchlist and client from scripts (``wait``, ``submit`` and ``retry`` live in
:mod:`aireiter_tui.waiting` and :mod:`aireiter_tui.submit_commands`); ``simulate`` runs the
embedded simulator.
Exit status: 0 ok (``query``: completed), 1 task failed (the dashboard: its final save
failed), 2 usage/config/auth error or unknown task, 3 task pending or processing, 4
network or server error; 70 a crash (a bug: never a task's outcome); 141 when whoever
reads the output closed it early (``| head``), as for a command killed by SIGPIPE.

What they print never carries what came from the network raw: see :mod:`aireiter_tui.output`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

from aireiter_tui import __version__
from aireiter_tui.domain import paths
from aireiter_tui.domain.config import Settings, load_settings
from aireiter_tui.domain.errors import (
    AIReiterError,
    AuthenticationError,
    ConfigError,
    InsecureURLError,
    TaskNotFoundError,
)
from aireiter_tui.domain.insight import LiveFigures
from aireiter_tui.domain.models import IdKind, Task, TaskRef, TaskStatus
from aireiter_tui.domain.session import Row
from aireiter_tui.domain.view import COLUMN_IDS, StatusFilter, ViewSpec, compute_order
from aireiter_tui.domain.watchlist import WatchlistError, WatchlistStore, parse_id_list
from aireiter_tui.domain.watchlist_codec import MAX_LABEL_LENGTH, WatchEntry
from aireiter_tui.export import ExportFormat, export_fields, records, render
from aireiter_tui.output import json_text, shown, timestamp, write

if TYPE_CHECKING:
    from aireiter_tui.api.client import AIReiterClient

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ACTIVE, EXIT_NETWORK = 0, 1, 2, 3, 4
#: sysexits' EX_SOFTWARE: an exception nobody expected (a bug), told apart from every
#: outcome above; 1 would read as "the task failed".
EXIT_CRASH = 70
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE.value if hasattr(signal, "SIGPIPE") else 141


def _global_options(parser: argparse.ArgumentParser, *, default: object) -> None:
    """The options every command takes, before or after the command's name."""
    parser.add_argument(
        "--config",
        type=Path,
        default=default,
        help="config file (default: $AIREITER_TUI_CONFIG "
        "or $XDG_CONFIG_HOME/aireiter-tui/config.toml)",
    )
    parser.add_argument(
        "--profile", default=default, help="use the [profiles.NAME] table of the config file"
    )
    parser.add_argument(
        "--base-url",
        default=default,
        help="API base URL (overrides config and AIREITER_BASE_URL)",
    )
    parser.add_argument(
        "--watchlist",
        type=Path,
        default=default,
        help="watchlist file (default: "
        "$AIREITER_TUI_WATCHLIST or $XDG_DATA_HOME/aireiter-tui/watchlist.toml)",
    )
    parser.add_argument(
        "--allow-insecure-http",
        action="store_true",
        default=default if default is argparse.SUPPRESS else False,
        help="allow a plain-http base URL to a host other than this machine",
    )


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
    _global_options(parser, default=None)
    # After the command's name too (`query ID --base-url URL`): SUPPRESS leaves what was
    # given before the name in place when it is not repeated after it.
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    ids_help = "task IDs, or - to read them from standard input (one or many per line)"

    add = commands.add_parser("add", parents=[common], help="add task IDs to the watchlist")
    add.add_argument("ids", nargs="*", metavar="ID", help=ids_help)
    add.add_argument("--from-file", type=Path, metavar="PATH", help="read IDs from a file too")
    add.add_argument("--out", action="store_true", help="the IDs are out_task_ids")
    add.add_argument("--label", help="a label for the added tasks")

    remove = commands.add_parser(
        "remove", parents=[common], help="remove task IDs from the watchlist"
    )
    remove.add_argument("ids", nargs="+", metavar="ID")
    remove.add_argument("--out", action="store_true", help="the IDs are out_task_ids")

    listing = commands.add_parser(
        "list", parents=[common], help="print the watchlist with last known statuses"
    )
    listing.add_argument("--json", action="store_true", help="print JSON lines")
    listing.add_argument(
        "--format",
        choices=[fmt.value for fmt in ExportFormat],
        help="print the dashboard's export: its columns as CSV, a JSON list or JSON lines",
    )
    listing.add_argument(
        "--status",
        choices=[status.value for status in StatusFilter],
        default=StatusFilter.ALL.value,
        help="only tasks with this status (as the dashboard's status filter)",
    )
    listing.add_argument(
        "--filter",
        metavar="TEXT",
        default="",
        help="only tasks whose ID, label, model or prompt contains TEXT (ignoring case)",
    )
    listing.add_argument(
        "--all-fields", action="store_true", help="with --format: every field of each task"
    )

    query = commands.add_parser(
        "query",
        parents=[common],
        help="query tasks once and print them",
        description="Query each task once and print it. Exit status (the first that "
        "applies): 2 bad key, unknown task or usage error, 4 network or server error, "
        "1 a task failed, 3 a task is pending or processing, 0 all completed.",
    )
    query.add_argument("ids", nargs="+", metavar="ID")
    query.add_argument("--out", action="store_true", help="the IDs are out_task_ids")
    query.add_argument("--json", action="store_true", help="print the raw task JSON")

    wait = commands.add_parser(
        "wait",
        parents=[common],
        help="wait until tasks finish (for scripts)",
        description="Poll tasks until each has finished, as the dashboard polls them. "
        "Exit status (the first that applies): 2 refused key, unknown task or usage error, "
        "4 the server was unreachable for longer than --timeout, 1 a task failed, "
        "3 the timeout passed first, 0 all completed.",
    )
    wait.add_argument("ids", nargs="*", metavar="ID", help=ids_help)
    wait.add_argument("--out", action="store_true", help="the IDs are out_task_ids")
    wait.add_argument(
        "--all-active", action="store_true", help="also every unfinished task on the watchlist"
    )
    wait.add_argument("--add", action="store_true", help="add the IDs to the watchlist too")
    wait.add_argument("--timeout", type=float, metavar="SECONDS", help="give up after this long")
    wait.add_argument(
        "--json", action="store_true", help="a JSON object per change, then a summary"
    )
    wait.add_argument("--quiet", action="store_true", help="no progress, no summary")

    from aireiter_tui import submit_commands

    submit_commands.add_arguments(commands, common)

    from aireiter_tui import stats_command

    stats_command.add_arguments(commands, common)

    from aireiter_tui import download_command

    download_command.add_arguments(commands, common)

    from aireiter_tui.simulator import cli as simulator_cli

    simulate = commands.add_parser("simulate", help="run the AIReiter-compatible simulator")
    simulator_cli.add_arguments(simulate)
    return parser


def _read_ids(args: argparse.Namespace) -> str:
    """The IDs given: the arguments, standard input for ``-``, and ``--from-file``."""
    parts = [part for part in args.ids if part != "-"]
    if "-" in args.ids:
        parts.append(sys.stdin.read())
    path = getattr(args, "from_file", None)
    if path is not None:
        try:
            parts.append(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"{path}: cannot be read ({error})") from None
    return "\n".join(parts)


class UsageError(Exception):
    """A command line that cannot be carried out; ``str()`` says why."""


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
    except (WatchlistError, UsageError) as error:
        print(f"aireiter-tui: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 128 + signal.SIGINT.value
    except Exception as error:  # a bug: said as one, never passed off as a task's outcome
        traceback.print_exception(error)
        return _crashed(error, None if args.command == "query" else _store(args))
    return status


def _headless(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "add":
        return _add(args, _store(args))
    if args.command == "remove":
        return _remove(args, _store(args))
    if args.command == "list":
        return _list(args, settings, _store(args), sys.stdout)
    if args.command == "wait":
        return asyncio.run(_wait(args, settings, _store(args)))
    if args.command == "stats":
        from aireiter_tui import stats_command

        try:
            window = stats_command.window_of(args.since)
        except ValueError as error:
            raise UsageError(str(error)) from None
        return stats_command.run(args, _store(args), sys.stdout, window=window)
    if args.command == "download":
        from aireiter_tui import download_command

        refs, rejected = _given_refs(args)
        return asyncio.run(
            download_command.run(args, settings, refs, rejected, sys.stdout, sys.stderr)
        )
    if args.command in ("submit", "retry"):
        from aireiter_tui import submit_commands

        return asyncio.run(submit_commands.run(args, settings, _store(args)))
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
    # (First: it sets Textual's frame rate, read when anything first imports Textual.)
    importlib.import_module("aireiter_tui.ui")
    # textual-image asks the terminal what it can draw when imported, waiting up to 0.2 s
    # for terminals that do not answer; it must happen before Textual takes the terminal,
    # and on a thread it overlaps the app's own imports instead of adding to them.
    probe = threading.Thread(
        target=importlib.import_module, args=("textual_image.widget",), daemon=True
    )
    probe.start()
    from aireiter_tui.backend import Backend
    from aireiter_tui.domain.paths import cache_dir
    from aireiter_tui.ui.app import AIReiterApp

    store = _store(args)
    try:
        simulator = None
        if args.demo:
            from aireiter_tui.simulator import Simulator

            simulator = Simulator(seed=7, speed=1.0)
        backend = Backend(
            settings, store, config_path=config, simulator=simulator, cache_dir=cache_dir()
        )
        app = AIReiterApp(backend)
        probe.join()
        app.run()
    except Exception as error:  # raised past Textual: building the app, its driver
        traceback.print_exception(error)
        return _crashed(error, store)
    if app.final_error:
        print(f"aireiter-tui: {app.final_error}", file=sys.stderr)
    # Textual caught an exception and printed its traceback. It keeps the first one (for
    # test frameworks; not public, so read with care) and sets return_code to 1, which an
    # exit() afterwards would set back to 0: either tells.
    caught = getattr(app, "_exception", None)
    if app.return_code or isinstance(caught, BaseException):
        return _crashed(caught if isinstance(caught, BaseException) else None, store)
    return EXIT_FAILED if app.final_error else EXIT_OK


def _crashed(error: BaseException | None, store: WatchlistStore | None) -> int:
    """Say in one sentence, after the traceback, that this was a crash and what to do."""
    what = "crashed"
    if error is not None:
        said = shown(error, 200)
        what += f" ({type(error).__name__}{': ' if said else ''}{said})"
    if error is not None and store is not None and _in_watchlist_code(error):
        print(
            f"aireiter-tui: {what} while reading or saving the watchlist. Move "
            f"{store.cache_path} aside (it only holds what the server last said: the tasks "
            f"are queried again) and start again; if it still crashes, move {store.path} "
            "aside too (it holds your task IDs and labels: keep it).",
            file=sys.stderr,
        )
    else:
        print(
            f"aireiter-tui: {what}; the traceback above says where (please report it).",
            file=sys.stderr,
        )
    return EXIT_CRASH


def _in_watchlist_code(error: BaseException) -> bool:
    """Whether ``error``, or an exception it came from, was raised inside the code that
    reads and writes the watchlist and its cache: then what the files hold is the likely
    cause."""
    from aireiter_tui.domain import (
        legacy_cache,
        loading,
        snapshot_db,
        watchlist,
        watchlist_codec,
    )

    modules = (loading, watchlist, snapshot_db, legacy_cache, watchlist_codec)
    files = {os.path.normcase(os.path.abspath(module.__file__ or "")) for module in modules}
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for frame, _ in traceback.walk_tb(current.__traceback__):
            if os.path.normcase(os.path.abspath(frame.f_code.co_filename)) in files:
                return True
        # The chain the traceback shows: the cause, else the context unless suppressed.
        if current.__cause__ is not None or current.__suppress_context__:
            current = current.__cause__
        else:
            current = current.__context__
    return False


def _given_refs(args: argparse.Namespace) -> tuple[list[TaskRef], list[tuple[str, str]]]:
    """The task refs named on the command line, standard input or a file, and the
    rejected pieces with why."""
    spaced = [part for part in args.ids if part != "-" and part.strip() and len(part.split()) > 1]
    if spaced:
        raise UsageError(
            f"{shown(spaced[0], 80)!r} holds spaces: one argument is one ID "
            "(to pass many in one argument, use - and standard input)"
        )
    kind = IdKind.OUT_TASK_ID if args.out else IdKind.TASK_ID
    return parse_id_list(_read_ids(args), kind)


def _append(store: WatchlistStore, refs: Sequence[TaskRef], label: str | None) -> list[TaskRef]:
    """Add the refs not watched yet to the end of the watchlist; returns them."""
    entries = store.load()
    existing = {entry.ref for entry in entries}
    new = [ref for ref in refs if ref not in existing]
    now = datetime.now(UTC)
    # The file's entries first: a save puts the given entries before the others on disk,
    # and new tasks belong at the end of the list, as in the dashboard.
    added = [WatchEntry(ref=ref, label=label, added_at=now) for ref in new]
    store.save([*entries, *added])
    return new


def _add(args: argparse.Namespace, store: WatchlistStore) -> int:
    if not args.ids and args.from_file is None:
        raise UsageError("add needs IDs: as arguments, - for standard input, or --from-file")
    if args.label is not None and len(args.label) > MAX_LABEL_LENGTH:
        raise UsageError(
            f"the label is {len(args.label):,} characters long; at most {MAX_LABEL_LENGTH}"
        )
    refs, rejected = _given_refs(args)
    for text, reason in rejected:
        print(f"aireiter-tui: not added {shown(text, 80)!r}: {reason}", file=sys.stderr)
    new = _append(store, refs, args.label)
    write(
        sys.stdout,
        f"added {len(new)} task(s); {len(refs) - len(new)} already watched; "
        f"{len(rejected)} rejected ({store.path})\n",
    )
    return EXIT_USAGE if rejected and not refs else EXIT_OK


def _remove(args: argparse.Namespace, store: WatchlistStore) -> int:
    kind = IdKind.OUT_TASK_ID if args.out else IdKind.TASK_ID
    refs, rejected = parse_id_list(" ".join(args.ids), kind)
    entries = store.load()
    watched = {entry.ref for entry in entries}
    gone = {ref for ref in refs if ref in watched}
    store.save([entry for entry in entries if entry.ref not in gone], removed=gone)
    write(sys.stdout, f"removed {len(gone)} task(s); {len(refs) - len(gone)} not watched\n")
    other = IdKind.TASK_ID if args.out else IdKind.OUT_TASK_ID
    watched_as_other = {e.ref.id for e in entries if e.ref.kind is other}
    for ref in refs:
        if ref not in gone and ref.id in watched_as_other:
            flag = "without --out" if args.out else "with --out"
            print(f"  {ref.id} is watched as an {other.value}: run remove {flag}", file=sys.stderr)
    return EXIT_USAGE if rejected or (refs and not gone) else EXIT_OK


_LIST_HEADER: Final = ("ID", "KIND", "STATUS", "CHECKED", "LABEL")


def _list(args: argparse.Namespace, settings: Settings, store: WatchlistStore, out: TextIO) -> int:
    if args.all_fields and not args.format:
        raise UsageError("--all-fields needs --format csv, json or jsonl")
    if args.json and args.format:
        raise UsageError("--json and --format cannot go together (--format jsonl: JSON lines)")
    rows, figures = _listed(args, settings, store.load())
    entries = [row.entry for row in rows]
    if args.format:
        columns = [c.id for c in settings.columns] if settings.columns else COLUMN_IDS
        fields = export_fields(columns, all_fields=args.all_fields)
        now = datetime.now(UTC)

        def eta(key: str) -> float | None:
            estimate = figures.estimate(key, now)
            return estimate.seconds if estimate is not None else None

        found = records(rows, fields, now=now, eta=eta)
        write(out, render(found, fields, ExportFormat(args.format), out))
    elif args.json:
        for entry in entries:
            task = entry.task
            record = {
                "id": entry.ref.id,
                "kind": entry.ref.kind.value,
                "label": entry.label,
                "status": task.status_label if task else None,
                "model": task.model if task else None,
                "outputs": [o.url for o in task.outputs] if task else [],
            }
            write(out, json_text(record, out) + "\n")
    elif out.isatty():
        _list_columns(entries, out)
    else:
        for entry in entries:
            label = f"  ({entry.label})" if entry.label else ""
            # Each field cleaned on its own so the tabs between them survive for scripts.
            fields = (entry.ref.id, entry.ref.kind.value, _status(entry) + label)
            write(out, "\t".join(shown(field) for field in fields) + "\n")
    return EXIT_OK


def _listed(
    args: argparse.Namespace, settings: Settings, entries: Sequence[WatchEntry]
) -> tuple[list[Row], LiveFigures]:
    """The watched tasks that pass ``--status`` and ``--filter``, in watchlist order, and
    the figures the dashboard has of them (ETA, stuck)."""
    rows = {entry.ref.key: Row(entry) for entry in entries}
    figures = LiveFigures(settings.stuck_after)
    figures.sync((key, row.entry, row.gone) for key, row in rows.items())
    now = datetime.now(UTC)
    spec = ViewSpec(text=args.filter.strip(), status=StatusFilter(args.status))
    order = compute_order(rows.items(), spec, now, stuck=lambda key: figures.stuck(key, now))
    return [rows[key] for key in order], figures


def _status(entry: WatchEntry) -> str:
    return entry.task.status_label if entry.task else "not fetched"


def _list_columns(entries: Sequence[WatchEntry], out: TextIO) -> None:
    """The watchlist for a person: aligned columns under a header, the label last."""
    from rich.cells import cell_len

    rows = [_LIST_HEADER]
    for entry in entries:
        checked = timestamp(entry.checked_at) or "never"
        status, label = shown(_status(entry), 40), shown(entry.label or "", 80)
        rows.append((shown(entry.ref.id), entry.ref.kind.value, status, checked, label))
    widths = [max(cell_len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [
            cell + " " * (width - cell_len(cell))
            for cell, width in zip(row[:-1], widths, strict=True)
        ]
        write(out, "  ".join([*cells, row[-1]]).rstrip() + "\n")


def _no_key() -> int:
    print(
        "aireiter-tui: no API key: set AIREITER_API_KEY or api_key in the config file",
        file=sys.stderr,
    )
    return EXIT_USAGE


async def _wait(args: argparse.Namespace, settings: Settings, store: WatchlistStore) -> int:
    from aireiter_tui.backend import build_client
    from aireiter_tui.waiting import wait_for_tasks

    if not settings.api_key:
        return _no_key()
    refs, rejected = _given_refs(args) if args.ids else ([], [])
    for text, reason in rejected:
        print(f"aireiter-tui: cannot wait for {shown(text, 80)!r}: {reason}", file=sys.stderr)
    if rejected:
        return EXIT_USAGE
    if args.add and refs:
        _append(store, refs, None)
    if args.all_active:
        given = set(refs)
        refs += [
            entry.ref
            for entry in store.load()
            if entry.ref not in given and not (entry.task and entry.task.status.is_terminal)
        ]
    if not refs:
        if args.all_active:
            print("aireiter-tui: no unfinished task on the watchlist", file=sys.stderr)
            return EXIT_OK
        raise UsageError("wait needs IDs: as arguments, - for standard input, or --all-active")
    try:
        async with build_client(settings) as client:
            result = await wait_for_tasks(
                client,
                settings,
                refs,
                timeout=args.timeout,
                out=sys.stdout,
                err=sys.stderr,
                json_lines=args.json,
                quiet=args.quiet,
                live_line=sys.stderr.isatty(),
            )
    except AIReiterError as error:  # the client could not be set up (a refused URL)
        print(f"aireiter-tui: {error.human()}", file=sys.stderr)
        return EXIT_USAGE
    return result.code


#: Exit statuses of several queries: the first that applies wins.
_PRECEDENCE: Final = (EXIT_USAGE, EXIT_NETWORK, EXIT_FAILED, EXIT_ACTIVE, EXIT_OK)


async def _query(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from aireiter_tui.backend import build_client

    if not settings.api_key:
        return _no_key()
    refs, rejected = _given_refs(args)
    for text, reason in rejected:
        print(f"aireiter-tui: not queried {shown(text, 80)!r}: {reason}", file=sys.stderr)
    statuses = {EXIT_USAGE} if rejected else set()
    try:
        async with build_client(settings, concurrency=1) as client:
            for number, ref in enumerate(refs):
                if number and not args.json:
                    write(out, "\n")
                statuses.add(await _query_one(client, ref, out, as_json=args.json))
    except AIReiterError as error:  # the client could not be set up (a refused URL)
        print(f"aireiter-tui: {error.human()}", file=sys.stderr)
        return EXIT_USAGE
    return next(code for code in _PRECEDENCE if code in statuses or code == EXIT_OK)


async def _query_one(client: AIReiterClient, ref: TaskRef, out: TextIO, *, as_json: bool) -> int:
    try:
        task = await client.query_ref(ref)
    except AIReiterError as error:
        print(f"aireiter-tui: {shown(ref.id, 80)}: {error.human()}", file=sys.stderr)
        if isinstance(error, AuthenticationError | TaskNotFoundError | InsecureURLError):
            return EXIT_USAGE
        return EXIT_NETWORK
    _print_task(task, ref, out, as_json=as_json)
    if task.status is TaskStatus.COMPLETED:
        return EXIT_OK
    if task.status is TaskStatus.FAILED:
        return EXIT_FAILED
    return EXIT_ACTIVE


def _print_task(task: Task, asked: TaskRef, out: TextIO, *, as_json: bool) -> None:
    if as_json:
        write(out, json_text(task.raw, out, indent=2) + "\n")
        return
    out_task_id = asked.id if asked.kind is IdKind.OUT_TASK_ID else task.out_task_id
    lines = [
        ("task_id", task.task_id or ""),
        ("out_task_id", out_task_id or ""),
        ("status", task.status_label),
        ("model", task.model or ""),
        ("prompt", task.prompt or ""),
        ("created", timestamp(task.created_at)),
        ("completed", timestamp(task.completed_at)),
        ("credits", "" if task.credits_used is None else f"{task.credits_used:g}"),
    ]
    if task.failure:
        lines.append(("error", task.failure.message))
    lines += [(f"output {n}", o.url) for n, o in enumerate(task.outputs, 1)]
    if task.outputs_omitted:
        lines.append(("outputs", f"… and {task.outputs_omitted:,} more (--json prints them)"))
    for name, value in lines:
        if value:
            write(out, f"{name:>10}  {shown(value, 2000)}\n")
