"""``aireiter-tui submit`` and ``retry``: new tasks from a script.

Both send through the duplicate guard (:mod:`aireiter_tui.domain.submitting`): the
out_task_id is written to the journal beside the watchlist before it leaves, and after an
unclear failure the server is asked before anything is sent again. So a script may run
the same command again after a timeout: ``submit`` takes up the unresolved out_task_id of
the same request (same model, params, metadata and callback URL), ``retry`` that of the
same task's retry, and neither makes a second task.

Each new task joins the watchlist at once (labelled, with its estimated credits, a retry
linked to the task it retries); its ID goes to standard output (``--json``: an object
with everything the answer said). ``--wait`` then waits for it exactly as ``wait`` does.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TextIO, TypeVar

from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.drafts import (
    Draft,
    NotRetryable,
    ids_in_use,
    new_out_task_id,
    parse_json_object,
    parse_param_option,
    retry_draft,
)
from aireiter_tui.domain.errors import (
    AIReiterError,
    AuthenticationError,
    InsecureURLError,
    RejectedError,
    TaskNotFoundError,
)
from aireiter_tui.domain.models import IdKind, Task, TaskRef, TaskStatus
from aireiter_tui.domain.submitting import (
    SubmitError,
    SubmitJournal,
    SubmitRefused,
    SubmitRejected,
    Submitted,
    Submitter,
    SubmitUnknown,
    entry_for,
)
from aireiter_tui.domain.watchlist import WatchlistStore, parse_id_list
from aireiter_tui.domain.watchlist_codec import MAX_LABEL_LENGTH, WatchEntry, retries_of
from aireiter_tui.output import json_text, shown, timestamp, write
from aireiter_tui.waiting import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    wait_for_tasks,
)

if TYPE_CHECKING:
    from aireiter_tui.api.client import AIReiterClient

_T = TypeVar("_T")
#: Network or server trouble, and a submit whose fate is unknown (``wait``'s 4).
EXIT_NETWORK: Final = EXIT_UNREACHABLE
#: Exit statuses of several tasks: the first that applies wins.
_PRECEDENCE: Final = (EXIT_USAGE, EXIT_NETWORK, EXIT_FAILED, EXIT_TIMEOUT, EXIT_OK)
_PROG: Final = "aireiter-tui"

SUBMIT_HELP: Final = (
    "Submit a new task, add it to the watchlist and print its ID (task_id, or the "
    "out_task_id when the answer has none). Never twice: the out_task_id is journalled "
    "before it is sent, and after a lost answer (a timeout) the server is asked before "
    "anything is sent again; running the same command again takes up the unresolved "
    "out_task_id of the same request. Exit status without --wait: 0 submitted (or found "
    "submitted before), 2 usage, bad params, no or refused key, or refused by the server, "
    "4 network or server error, or unknown whether it was accepted. With --wait, after a "
    "submit, as wait: 2 unknown task, 4 unreachable past --timeout, 1 failed, 3 the "
    "timeout passed first, 0 completed."
)
RETRY_HELP: Final = (
    "Submit each failed task again: the same model, params and metadata as the server "
    "returned them, a new out_task_id (the old one plus -r1, -r2, ...), the same label; "
    "the new task joins the watchlist linked to the old one, and its ID is printed. Exit "
    "status (the first that applies): 2 usage, no or refused key, a task that is unknown, "
    "not failed or already retried (without --again), or refused by the server; 4 network "
    "or server error, or unknown whether a retry was accepted; with --wait, then as wait "
    "for the new tasks: 1 one failed, 3 the timeout passed first; 0 all retried (with "
    "--wait: and completed)."
)


def add_arguments(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    """Add the ``submit`` and ``retry`` commands to the command-line parser."""
    submit = commands.add_parser(
        "submit", parents=[common], help="submit a new task and watch it", description=SUBMIT_HELP
    )
    submit.add_argument("--model", help="the model (e.g. nano_banana; any name is sent)")
    submit.add_argument(
        "--template", metavar="NAME", help="start from [templates.NAME] of the config file"
    )
    submit.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a param (repeatable); the value is read as JSON when it is JSON (42, true, "
        '"text"), else taken as text: --param prompt=a red fox --param output_n=2',
    )
    submit.add_argument(
        "--params-file",
        metavar="FILE",
        help="params as a JSON object from a file (- for standard input); --param wins",
    )
    submit.add_argument(
        "--out-task-id", metavar="ID", help="your own ID for the task (default: a fresh one)"
    )
    submit.add_argument("--metadata", metavar="JSON", help="a JSON object returned in queries")
    submit.add_argument("--callback-url", metavar="URL", help="the service calls it when done")
    submit.add_argument("--label", help="a label for the watchlist")
    _wait_options(submit)

    retry = commands.add_parser(
        "retry", parents=[common], help="submit failed tasks again", description=RETRY_HELP
    )
    retry.add_argument("ids", nargs="+", metavar="ID", help="failed tasks (watched or not)")
    retry.add_argument("--out", action="store_true", help="the IDs are out_task_ids")
    retry.add_argument(
        "--again", action="store_true", help="retry a task even if it was retried before"
    )
    _wait_options(retry)


def _wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", action="store_true", help="then wait for it, as wait does")
    parser.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="with --wait: give up after this long"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="a JSON object per submitted task (with --wait: then wait's JSON)",
    )
    parser.add_argument("--quiet", action="store_true", help="with --wait: no progress")


class _Usage(Exception):
    """A command line that cannot be carried out; ``str()`` says why."""


def _read(journal: SubmitJournal, call: Callable[..., _T], *args: Any) -> _T:
    """A journal lookup; a journal that cannot be read stops the command with a sentence.

    Raises:
        _Usage: the journal file cannot be read.
    """
    try:
        return call(*args)
    except OSError as error:
        raise _Usage(journal.problem(error)) from None


def _say(err: TextIO, text: str) -> None:
    write(err, f"{_PROG}: {text}\n")


def _no_key(settings: Settings, err: TextIO) -> bool:
    if settings.api_key:
        return False
    _say(err, "no API key: set AIREITER_API_KEY or api_key in the config file")
    return True


async def run(
    args: argparse.Namespace,
    settings: Settings,
    store: WatchlistStore,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Carry out ``submit`` or ``retry``; returns the exit status."""
    out, err = out or sys.stdout, err or sys.stderr
    journal = SubmitJournal.beside(store.path)
    try:
        if args.command == "submit":
            return await _submit(args, settings, store, journal, out, err)
        return await _retry(args, settings, store, journal, out, err)
    except _Usage as problem:
        _say(err, str(problem))
        return EXIT_USAGE

    except AIReiterError as error:  # the client could not be set up (a refused URL)
        _say(err, error.human())
        return EXIT_USAGE


# --- submit -----------------------------------------------------------------------------


def _draft(args: argparse.Namespace, settings: Settings, journal: SubmitJournal) -> Draft:
    """The draft the options describe.

    Raises:
        _Usage: an option is unusable (the template, a file, JSON, a label).
    """
    params: dict[str, Any] = {}
    model = args.model
    if args.template is not None:
        template = settings.templates.get(args.template)
        if template is None:
            known = ", ".join(sorted(settings.templates)) or "none"
            raise _Usage(
                f"no template {shown(args.template, 60)!r} in the config file (templates: "
                f"{shown(known, 200)})"
            )
        params = copy.deepcopy(template.params)
        model = model or template.model
    if not model:
        raise _Usage("submit needs --model (or --template NAME with a model)")
    if args.params_file is not None:
        params.update(_params_file(args.params_file))
    for option in args.param:
        try:
            key, value = parse_param_option(option)
        except ValueError as error:
            raise _Usage(f"--param {error}") from None
        params[key] = value
    metadata = None
    if args.metadata is not None:
        metadata, problem = parse_json_object(args.metadata, "metadata")
        if metadata is None:
            raise _Usage(problem)
    if args.label is not None and len(args.label) > MAX_LABEL_LENGTH:
        raise _Usage(
            f"the label is {len(args.label):,} characters long; at most {MAX_LABEL_LENGTH}"
        )
    draft = Draft(model, params, "", args.callback_url, metadata, label=args.label)
    out_task_id = args.out_task_id
    if out_task_id is None:
        # The same request whose answer was lost: its out_task_id, so the server is asked.
        earlier = _read(journal, journal.unresolved_like, draft.fingerprint)
        out_task_id = earlier.out_task_id if earlier else new_out_task_id()
    return replace(draft, out_task_id=out_task_id)


def _params_file(name: str) -> dict[str, Any]:
    try:
        if name == "-":
            text = sys.stdin.read()
        else:
            with open(name, encoding="utf-8") as handle:
                text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise _Usage(f"{shown(name, 200)}: cannot be read ({error})") from None
    params, problem = parse_json_object(text, f"params in {shown(name, 200)}")
    if params is None:
        raise _Usage(problem)
    return params


async def _submit(
    args: argparse.Namespace,
    settings: Settings,
    store: WatchlistStore,
    journal: SubmitJournal,
    out: TextIO,
    err: TextIO,
) -> int:
    from aireiter_tui.backend import build_client

    draft = _draft(args, settings, journal)
    problems = draft.problems()
    for problem in problems:
        _say(err, f"not submitted: {problem}")
    if problems:
        return EXIT_USAGE
    if _no_key(settings, err):
        return EXIT_USAGE
    async with build_client(settings, concurrency=2) as client:
        code, submitted = await _send(Submitter(client, journal), draft, err)
        if submitted is None:
            return code
        _report(submitted, out, err, as_json=args.json)
        _watch(store, [submitted])
        if not args.wait:
            return EXIT_OK
        return await _wait(args, settings, client, [submitted.ref], out, err)


async def _send(submitter: Submitter, draft: Draft, err: TextIO) -> tuple[int, Submitted | None]:
    """Submit through the guard; the exit status of a failure, or the task."""
    try:
        return EXIT_OK, await submitter.submit(draft)
    except SubmitRefused as refused:
        for reason in refused.reasons:
            _say(err, f"not submitted: {reason}")
        return EXIT_USAGE, None
    except SubmitRejected as rejected:
        _say(err, rejected.message)
        final = (AuthenticationError, RejectedError, InsecureURLError)
        return (EXIT_USAGE if isinstance(rejected.error, final) else EXIT_NETWORK), None
    except SubmitUnknown as unknown:
        _say(err, unknown.message)
        _say(
            err,
            "to settle it, run the same command again (it asks the server for out_task_id "
            f"{shown(draft.out_task_id)} before sending anything)",
        )
        return EXIT_NETWORK, None
    except SubmitError as error:  # the journal cannot be written
        _say(err, error.message)
        return EXIT_USAGE, None


def _report(submitted: Submitted, out: TextIO, err: TextIO, *, as_json: bool) -> None:
    for warning in submitted.warnings:
        _say(err, f"warning: {warning}")
    if as_json:
        retry_of = submitted.draft.retry_of
        record = {
            "event": "submitted",
            "task_id": submitted.task_id,
            "out_task_id": submitted.out_task_id,
            "model": submitted.draft.model,
            "status": submitted.status,
            "estimated_credits": submitted.estimated_credits,
            "created_at": timestamp(submitted.created_at) or None,
            "watched_as": {"kind": submitted.ref.kind.value, "id": submitted.ref.id},
            "label": submitted.draft.label,
            "retry_of": retry_of.id if retry_of else None,
            "already_submitted": submitted.already,
        }
        write(out, json_text(record, out) + "\n")
    else:
        write(out, shown(submitted.ref.id) + "\n")
        _say(err, submitted.sentence())
    out.flush()


def _watch(store: WatchlistStore, submitted: Iterable[Submitted]) -> None:
    """Add the tasks not watched yet to the end of the watchlist."""
    entries = store.load()
    watched = {entry.ref for entry in entries}
    now = datetime.now(UTC)
    added = [entry_for(task, now) for task in submitted if task.ref not in watched]
    if added:
        store.save([*entries, *added])


async def _wait(
    args: argparse.Namespace,
    settings: Settings,
    client: AIReiterClient,
    refs: list[TaskRef],
    out: TextIO,
    err: TextIO,
) -> int:
    result = await wait_for_tasks(
        client,
        settings,
        refs,
        timeout=args.timeout,
        out=out,
        err=err,
        json_lines=args.json,
        quiet=args.quiet,
        live_line=err.isatty(),
    )
    return result.code


# --- retry ------------------------------------------------------------------------------


def _taken(entries: Iterable[WatchEntry], journal: SubmitJournal) -> set[str]:
    """Every ID a retry's out_task_id must not collide with: watched ones (both IDs of
    each task), and every out_task_id ever journalled."""
    return set(_read(journal, journal.records)) | ids_in_use(entries)


async def _retry(
    args: argparse.Namespace,
    settings: Settings,
    store: WatchlistStore,
    journal: SubmitJournal,
    out: TextIO,
    err: TextIO,
) -> int:
    from aireiter_tui.backend import build_client

    spaced = [part for part in args.ids if len(part.split()) > 1]
    if spaced:
        raise _Usage(f"{shown(spaced[0], 80)!r} holds spaces: one argument is one ID")
    kind = IdKind.OUT_TASK_ID if args.out else IdKind.TASK_ID
    refs, rejected = parse_id_list(" ".join(args.ids), kind)
    codes = {EXIT_USAGE} if rejected else set()
    for text, reason in rejected:
        _say(err, f"not retried {shown(text, 80)!r}: {reason}")
    if _no_key(settings, err):
        return EXIT_USAGE
    entries = store.load()
    taken = _taken(entries, journal)
    made: list[Submitted] = []
    async with build_client(settings, concurrency=2) as client:
        submitter = Submitter(client, journal)
        for ref in refs:
            code, draft = await _retry_draft(client, ref, entries, journal, taken, args, err)
            if draft is None:
                codes.add(code)
                continue
            taken.add(draft.out_task_id)
            code, submitted = await _send(submitter, draft, err)
            codes.add(code)
            if submitted is not None:
                _report(submitted, out, err, as_json=args.json)
                made.append(submitted)
        _watch(store, made)
        if args.wait and made:
            codes.add(await _wait(args, settings, client, [task.ref for task in made], out, err))
    return next(code for code in _PRECEDENCE if code in codes or code == EXIT_OK)


def _watched(entries: list[WatchEntry], refs: Iterable[TaskRef]) -> WatchEntry | None:
    """The watched entry of the task ``refs`` name: watched by one of them, or known by
    one in its last snapshot."""
    wanted = set(refs)
    for entry in entries:
        if entry.ref in wanted:
            return entry
    for entry in entries:
        task = entry.task
        if task is not None and wanted & set(_refs_of(task)):
            return entry
    return None


def _refs_of(task: Task) -> list[TaskRef]:
    """Both IDs of ``task``, as refs (those it has)."""
    refs = []
    if task.task_id:
        refs.append(TaskRef(IdKind.TASK_ID, task.task_id))
    if task.out_task_id:
        refs.append(TaskRef(IdKind.OUT_TASK_ID, task.out_task_id))
    return refs


async def _retry_draft(
    client: AIReiterClient,
    given: TaskRef,
    entries: list[WatchEntry],
    journal: SubmitJournal,
    taken: set[str],
    args: argparse.Namespace,
    err: TextIO,
) -> tuple[int, Draft | None]:
    """The draft that retries ``given``, or why not (an exit status, said on ``err``).

    The link and the label come from the task as watched, whichever of its IDs names it.
    """
    name = shown(given.id, 80)
    entry = _watched(entries, [given])
    task: Task | None = entry.task if entry is not None else None
    if task is None or task.status is not TaskStatus.FAILED or task.input is None:
        # What the watchlist last saw may be old news: the server's word decides.
        try:
            task = await client.query_ref(given)
        except AIReiterError as error:
            _say(err, f"not retried {name}: {error.human()}")
            final = (AuthenticationError, TaskNotFoundError, InsecureURLError)
            return (EXIT_USAGE if isinstance(error, final) else EXIT_NETWORK), None
        entry = entry or _watched(entries, [given, *_refs_of(task)])
    ref = entry.ref if entry is not None else given
    earlier = _read(journal, journal.retries_of, ref)
    unresolved = [record for record in earlier if not record.resolved]
    done = [record.task_id or record.out_task_id for record in earlier if record.resolved]
    done += [other.id for other in retries_of(entries, ref) if other.id not in done]
    if done and not unresolved and not args.again:
        _say(
            err,
            f"not retried {name}: it was already retried as {shown(', '.join(done), 200)};"
            " retry that"
            " one if it failed too, or pass --again",
        )
        return EXIT_USAGE, None
    try:
        draft = retry_draft(ref, task, taken, label=entry.label if entry else None)
    except NotRetryable as problem:
        _say(err, f"not retried: {problem}")
        return EXIT_USAGE, None
    if unresolved:
        # Its answer was lost: the same out_task_id, so the server is asked first.
        draft = replace(draft, out_task_id=unresolved[-1].out_task_id)
    return EXIT_OK, draft
