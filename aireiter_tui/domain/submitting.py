"""Sending a draft exactly once: the submit journal and the guard around the client.

A submit whose answer is lost (a timeout, a connection dropped after the request left, a
5xx without a word, an answer that cannot be read) may or may not have created its task.
Sending it again could make a second task, billed twice. So the guard:

- writes the out_task_id to the *journal* before the request leaves;
- after a clear answer (accepted, or refused: 4xx, a refused key, a 429, no connection
  at all) writes that down; after an unclear failure writes "unknown" and asks the
  server by out_task_id at once: found, it is the task; otherwise the submit is reported
  as "unknown whether it was accepted";
- before sending an out_task_id the journal holds as unresolved, asks the server first
  and sends only when the server says it does not know it; one the journal holds as
  accepted is never sent again;
- sends one out_task_id at most once at a time: a second press while the first is on
  the wire shares its outcome.

Why a journal beside the watchlist rather than a field of the watch entry: the record
must exist *before* the request leaves, when there is no task to watch yet, and a
refused submit must leave no row behind; the watchlist is merged three ways with other
programs and edited by hand, and a line deleted there must not open the way to a second
task. The journal is append-only JSON Lines (``<watchlist>.submits``), one record per
step, the latest per out_task_id wins; small, and kept small (see
:data:`MAX_JOURNAL_BYTES`). What the task keeps for good (the estimate, the retry link)
goes on its watch entry once it exists (:func:`entry_for`, :func:`watch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from aireiter_tui.domain.drafts import Draft, check_draft
from aireiter_tui.domain.errors import (
    AIReiterError,
    AuthenticationError,
    InsecureURLError,
    NotSentError,
    RateLimitedError,
    RejectedError,
    TaskNotFoundError,
)
from aireiter_tui.domain.fields import JSON, parse_datetime
from aireiter_tui.domain.models import IdKind, Task, TaskRef, validate_task_id
from aireiter_tui.domain.paths import exclusive_lock, replace_atomically
from aireiter_tui.domain.sanitize import one_line
from aireiter_tui.domain.watchlist_codec import WatchEntry

if TYPE_CHECKING:
    from aireiter_tui.domain.monitor import Monitor
    from aireiter_tui.domain.session import Row

#: The journal is compacted (the latest record per out_task_id, the newest ones) when it
#: grows past this; records are about 250 bytes.
MAX_JOURNAL_BYTES: Final = 512 * 1024
#: How many out_task_ids a compaction keeps (every unresolved one besides).
KEEP_RECORDS: Final = 1000

SENDING, ACCEPTED, REJECTED, UNKNOWN = "sending", "accepted", "rejected", "unknown"
_STATES: Final = frozenset({SENDING, ACCEPTED, REJECTED, UNKNOWN})
#: Failures after which no task can exist: the server said no, or never heard the request.
_CLEAR_REFUSALS: Final = (
    AuthenticationError,
    RateLimitedError,
    RejectedError,
    NotSentError,
    InsecureURLError,
)


# --- outcomes ---------------------------------------------------------------------------


class SubmitError(Exception):
    """A submit that made no task, or whose fate is unknown; ``str()`` is a sentence.

    ``accepted`` is ``False`` when certainly no task was made, ``None`` when unknown.
    """

    accepted: bool | None = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SubmitRefused(SubmitError):
    """Not sent: the draft has problems (``reasons``, each a sentence), or its
    out_task_id was used for another request."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(" ".join(reasons))
        self.reasons = tuple(reasons)


class SubmitRejected(SubmitError):
    """Sent (or tried), and the answer says no task was made: ``error`` says why."""

    def __init__(self, message: str, error: AIReiterError) -> None:
        super().__init__(message)
        self.error = error


class SubmitUnknown(SubmitError):
    """Unknown whether the server accepted it: the answer was lost and asking the server
    did not settle it. Submitting the same draft again asks the server first."""

    accepted = None


@dataclass(frozen=True)
class Submitted:
    """A draft the server holds as a task: how to watch it and what the answer said.

    ``already``: it was submitted before (this program's journal, or the server, knew
    it), and nothing was sent now. ``answer`` is the submit answer's ``data`` as sent
    (``None`` when the task was found by a query instead); ``task`` the query's task.
    """

    draft: Draft
    ref: TaskRef
    task_id: str | None
    status: str | None
    estimated_credits: float | None
    created_at: datetime | None
    already: bool = False
    answer: dict[str, JSON] | None = None
    task: Task | None = None
    warnings: tuple[str, ...] = ()

    @property
    def out_task_id(self) -> str:
        return self.draft.out_task_id

    @property
    def shown_id(self) -> str:
        """The ID the task is watched by, safe to print."""
        return one_line(self.ref.id, 300)

    def sentence(self) -> str:
        """What happened, for a toast or standard error."""
        what = f"{one_line(self.draft.model, 60)} as {self.shown_id}"
        if self.ref.kind is IdKind.TASK_ID:
            what += f" (out_task_id {one_line(self.out_task_id, 300)})"
        estimate = ""
        if self.estimated_credits is not None:
            estimate = f"; estimated {self.estimated_credits:g} credits"
        if self.already:
            return f"Already submitted: {what}; not sent again."
        if self.answer is None:
            return f"Submitted {what}; its answer was lost, and the server confirmed it."
        return f"Submitted {what}{estimate}."


# --- the journal --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """One step of one submit, as the journal keeps it."""

    out_task_id: str
    state: str
    at: datetime
    fingerprint: str
    model: str = ""
    task_id: str | None = None
    estimated_credits: float | None = None
    retry_of: TaskRef | None = None

    @property
    def resolved(self) -> bool:
        """Whether its fate is known (accepted or refused)."""
        return self.state in (ACCEPTED, REJECTED)

    def line(self) -> str:
        record: dict[str, Any] = {
            "out_task_id": self.out_task_id,
            "state": self.state,
            "at": self.at.astimezone(UTC).isoformat(),
            "fingerprint": self.fingerprint,
            "model": self.model,
        }
        if self.task_id is not None:
            record["task_id"] = self.task_id
        if self.estimated_credits is not None:
            record["estimated_credits"] = self.estimated_credits
        if self.retry_of is not None:
            record["retry_of"] = self.retry_of.key
        return json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"


def _record(value: Any) -> JournalRecord | None:
    """A journal line's record, or ``None`` when it is not one (damage, a hand edit)."""
    if not isinstance(value, dict):
        return None
    out_task_id, state = value.get("out_task_id"), value.get("state")
    at = parse_datetime(value.get("at"))
    if not isinstance(out_task_id, str) or validate_task_id(out_task_id) or at is None:
        return None
    if state not in _STATES or not isinstance(value.get("fingerprint"), str):
        return None
    task_id, model = value.get("task_id"), value.get("model")
    estimate = value.get("estimated_credits")
    retry_of = None
    kind, _, ident = str(value.get("retry_of") or "").partition(":")
    if kind in (IdKind.TASK_ID.value, IdKind.OUT_TASK_ID.value) and not validate_task_id(ident):
        retry_of = TaskRef(IdKind(kind), ident)
    return JournalRecord(
        out_task_id,
        state,
        at,
        value["fingerprint"],
        model if isinstance(model, str) else "",
        task_id if isinstance(task_id, str) and not validate_task_id(task_id) else None,
        _credits(estimate),
        retry_of,
    )


def _credits(value: Any) -> float | None:
    """An estimate of credits: a finite, non-negative number, or ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def retries_in(records: Mapping[str, JournalRecord], ref: TaskRef) -> list[JournalRecord]:
    """The submits among ``records`` (a journal's, read once) recorded as a retry of
    ``ref`` and not refused, oldest first."""
    found = [r for r in records.values() if r.retry_of == ref and r.state != REJECTED]
    return sorted(found, key=lambda record: record.at)


class SubmitJournal:
    """The out_task_ids submitted from this watchlist (see the module docstring).

    ``path`` ``None`` keeps the journal in memory only (a test, a throwaway monitor).
    Every call reads or writes the file under the watchlist's lock, so several programs
    (the dashboard, ``aireiter-tui submit`` in a script) share it; they block for a
    moment: call them from a thread (:class:`Submitter` does).
    """

    def __init__(self, path: Path | None, *, lock_path: Path | None = None) -> None:
        self.path = path
        self._lock_path = lock_path or (
            path.with_name(path.name + ".lock") if path is not None else None
        )
        self._memory: dict[str, JournalRecord] = {}
        self._stamp: tuple[int, int, int] | None = None

    @classmethod
    def beside(cls, watchlist: Path) -> SubmitJournal:
        """The journal of the watchlist at ``watchlist`` (``<name>.submits``), sharing
        the watchlist's lock file."""
        return cls(
            watchlist.with_name(watchlist.name + ".submits"),
            lock_path=watchlist.with_name(watchlist.name + ".lock"),
        )

    def problem(self, error: OSError) -> str:
        """What ``error`` (from any call here) means, for a sentence."""
        return f"the submit journal {self.path} cannot be used ({error.strerror or error})"

    def records(self) -> dict[str, JournalRecord]:
        """The latest record of every out_task_id in the journal.

        Raises:
            OSError: the file exists but cannot be read.
        """
        if self.path is None:
            return dict(self._memory)
        with self._locked():
            return dict(self._read())

    def latest(self, out_task_id: str) -> JournalRecord | None:
        """The latest record for ``out_task_id``, or ``None``."""
        return self.records().get(out_task_id)

    def unresolved_like(self, fingerprint: str) -> JournalRecord | None:
        """The newest unresolved submit of the same request (see
        :attr:`~aireiter_tui.domain.drafts.Draft.fingerprint`): a script that runs its
        submit again after a lost answer takes up that out_task_id, not a fresh one."""
        found = [
            record
            for record in self.records().values()
            if record.fingerprint == fingerprint and not record.resolved
        ]
        return max(found, key=lambda record: record.at, default=None)

    def retries_of(self, ref: TaskRef) -> list[JournalRecord]:
        """Every submit recorded as a retry of ``ref`` and not refused, oldest first."""
        return retries_in(self.records(), ref)

    def write(self, record: JournalRecord) -> None:
        """Append ``record`` durably (it is on disk when this returns).

        Raises:
            OSError: it could not be written.
        """
        if self.path is None:
            self._memory[record.out_task_id] = record
            return
        line = record.line().encode("utf-8", "replace")
        with self._locked():
            records = self._read()
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(self.path, flags, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            records[record.out_task_id] = record
            if os.stat(self.path).st_size > MAX_JOURNAL_BYTES:
                self._compact(records)

    def _compact(self, records: dict[str, JournalRecord]) -> None:
        """Keep the newest :data:`KEEP_RECORDS` out_task_ids and every unresolved one."""
        assert self.path is not None
        newest = sorted(records.values(), key=lambda record: record.at, reverse=True)
        kept = [r for index, r in enumerate(newest) if index < KEEP_RECORDS or not r.resolved]
        blob = "".join(record.line() for record in reversed(kept)).encode("utf-8", "replace")
        replace_atomically(self.path, blob, f".{self.path.name}.", durable=True)

    def _read(self) -> dict[str, JournalRecord]:
        assert self.path is not None
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        records: dict[str, JournalRecord] = {}
        for raw in data.splitlines():
            try:
                record = _record(json.loads(raw))
            except (ValueError, RecursionError):
                record = None  # a line cut short by a crash, or a hand edit
            if record is not None:
                records[record.out_task_id] = record
        return records

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        assert self.path is not None and self._lock_path is not None
        # The lock file may be elsewhere (a test's); the journal's folder must exist too.
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with exclusive_lock(self._lock_path):
            yield


# --- the guard ----------------------------------------------------------------------------


class SubmitClient(Protocol):
    """What the guard needs from the API client (``AIReiterClient`` satisfies it)."""

    async def submit(
        self,
        *,
        model: str,
        params: dict[str, Any],
        out_task_id: str,
        callback_url: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]: ...

    async def query_ref(self, ref: TaskRef) -> Task: ...


class Submitter:
    """Submits drafts through ``client``, never one out_task_id twice (see the module
    docstring). One per client and journal; safe to share between screens.

    Args:
        client: the API client.
        journal: where submitted out_task_ids are remembered.
        wall_clock: "now" for the journal's records.
    """

    def __init__(
        self,
        client: SubmitClient,
        journal: SubmitJournal,
        *,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.journal = journal
        self._now = wall_clock
        self._inflight: dict[str, asyncio.Future[Submitted]] = {}

    async def submit(self, draft: Draft) -> Submitted:
        """Send ``draft`` unless it was sent before; return the task it made.

        Raises:
            SubmitRefused: the draft has problems, or its out_task_id is taken (not sent).
            SubmitRejected: the server refused it, or was never reached: no task exists.
            SubmitUnknown: unknown whether it was accepted (see :class:`SubmitUnknown`).
            SubmitError: not sent, because the journal cannot be written.
        """
        problems = check_draft(draft)
        if problems:
            raise SubmitRefused(problems)
        key = draft.out_task_id
        running = self._inflight.get(key)
        if running is None:
            running = self._inflight[key] = asyncio.ensure_future(self._submit_once(draft))
            running.add_done_callback(lambda done: self._finished(key, done))
        # A second press while the first is on the wire shares its outcome. Shielded: a
        # caller that gives up (a dialog closed) does not cut a submit off midway; it
        # still ends in the journal.
        return await asyncio.shield(running)

    def _finished(self, key: str, done: asyncio.Future[Submitted]) -> None:
        if self._inflight.get(key) is done:
            del self._inflight[key]
        if not done.cancelled():
            done.exception()  # retrieved: nobody may be left to await it

    async def _submit_once(self, draft: Draft) -> Submitted:
        try:
            record = await self._journal(self.journal.latest, draft.out_task_id)
        except OSError as error:
            raise SubmitError(
                f"Not submitted: {self.journal.problem(error)}; without it a lost answer could"
                " make a second task."
            ) from None
        other_request = record is not None and record.fingerprint != draft.fingerprint
        if record is not None and record.state == ACCEPTED:
            if other_request:
                raise SubmitRefused([_taken(draft, record)])
            return self._from_record(draft, record)
        unresolved = record is not None and not record.resolved
        if unresolved:
            task = await self._ask(draft, unclear=None)
            if task is not None:
                if other_request:
                    raise SubmitRefused([_taken(draft, record)])
                return await self._accepted_by_query(draft, task, already=True)
        await self._write(draft, SENDING)
        try:
            data = await self.client.submit(
                model=draft.model,
                params=draft.params,
                out_task_id=draft.out_task_id,
                callback_url=draft.callback_url,
                metadata=draft.metadata,
            )
        except ValueError as error:
            await self._write(draft, REJECTED, quiet=True)
            raise SubmitRefused([str(error)]) from None
        except AIReiterError as error:
            return await self._failed(draft, error, resent=unresolved)
        return await self._answered(draft, data)

    async def _failed(self, draft: Draft, error: AIReiterError, *, resent: bool) -> Submitted:
        """After a failed send: a clear refusal is final; anything else is asked about."""
        if isinstance(error, _CLEAR_REFUSALS) and not (resent and isinstance(error, RejectedError)):
            await self._write(draft, REJECTED, quiet=True)
            raise SubmitRejected(f"Not submitted: {error.human()}", error)
        # Unclear, or refused right after an unclear attempt (its "already exists" may
        # be about that attempt's task): the server's word by out_task_id settles it.
        await self._write(draft, UNKNOWN, quiet=True)
        task = await self._ask(draft, unclear=error)
        if task is None and isinstance(error, RejectedError):
            await self._write(draft, REJECTED, quiet=True)
            raise SubmitRejected(f"Not submitted: {error.human()}", error)
        if task is None:
            raise SubmitUnknown(
                f"Unknown whether {one_line(draft.out_task_id)} was accepted: {error.human()}"
                " The server does not know it yet. Submitting it again asks the server"
                " first, so it cannot be made twice."
            )
        return await self._accepted_by_query(draft, task, already=False)

    async def _ask(self, draft: Draft, *, unclear: AIReiterError | None) -> Task | None:
        """The task the server holds under the draft's out_task_id; ``None`` when it says
        it has none.

        Raises:
            SubmitUnknown: the server could not be asked.
        """
        ref = TaskRef(IdKind.OUT_TASK_ID, draft.out_task_id)
        try:
            return await self.client.query_ref(ref)
        except TaskNotFoundError:
            return None
        except AIReiterError as error:
            lost = unclear.human() if unclear is not None else "An earlier answer was lost."
            raise SubmitUnknown(
                f"Unknown whether {one_line(draft.out_task_id)} was accepted: {lost} Asking"
                f" the server failed too: {error.human()} Submitting it again asks the"
                " server first, so it cannot be made twice."
            ) from None

    async def _answered(self, draft: Draft, data: dict[str, Any]) -> Submitted:
        task_id = data.get("task_id")
        task_id = task_id if isinstance(task_id, str) and not validate_task_id(task_id) else None
        echoed = data.get("out_task_id")
        if isinstance(echoed, str) and echoed and echoed != draft.out_task_id:
            # Another request's answer: ours may or may not exist; the server knows.
            error = AIReiterError(
                f"The server's answer names another out_task_id ({one_line(echoed)})."
            )
            return await self._failed(draft, error, resent=False)
        status = data.get("status")
        submitted = Submitted(
            draft=draft,
            ref=_ref(task_id, draft.out_task_id),
            task_id=task_id,
            status=status if isinstance(status, str) else None,
            estimated_credits=_credits(data.get("estimated_credits")),
            created_at=parse_datetime(data.get("created_at")),
            answer=data,
        )
        warning = await self._write(draft, ACCEPTED, submitted=submitted, quiet=True)
        return replace(submitted, warnings=(warning,)) if warning else submitted

    async def _accepted_by_query(self, draft: Draft, task: Task, *, already: bool) -> Submitted:
        try:  # the estimate, if an earlier answer brought one
            record = await self._journal(self.journal.latest, draft.out_task_id)
        except OSError:
            record = None
        task_id = task.task_id or (record.task_id if record else None)
        submitted = Submitted(
            draft=draft,
            ref=_ref(task_id, draft.out_task_id),
            task_id=task_id,
            status=task.status_label,
            estimated_credits=record.estimated_credits if record else None,
            created_at=task.created_at,
            already=already,
            task=task,
        )
        warning = await self._write(draft, ACCEPTED, submitted=submitted, quiet=True)
        return replace(submitted, warnings=(warning,)) if warning else submitted

    def _from_record(self, draft: Draft, record: JournalRecord) -> Submitted:
        return Submitted(
            draft=draft,
            ref=_ref(record.task_id, draft.out_task_id),
            task_id=record.task_id,
            status=None,
            estimated_credits=record.estimated_credits,
            created_at=None,
            already=True,
        )

    async def _write(
        self,
        draft: Draft,
        state: str,
        *,
        submitted: Submitted | None = None,
        quiet: bool = False,
    ) -> str:
        """Journal one step; returns why it could not be written ("" when it was).

        Raises:
            SubmitError: a ``sending`` record could not be written (unless ``quiet``):
                without it a lost answer could lead to a second task, so nothing is sent.
        """
        record = JournalRecord(
            draft.out_task_id,
            state,
            self._now(),
            draft.fingerprint,
            draft.model,
            submitted.task_id if submitted else None,
            submitted.estimated_credits if submitted else None,
            draft.retry_of,
        )
        try:
            await self._journal(self.journal.write, record)
        except OSError as error:
            reason = self.journal.problem(error)
            if not quiet:
                raise SubmitError(
                    f"Not submitted: {reason}; without it a lost answer could make a second task."
                ) from None
            return f"The task was submitted, but {reason}."
        return ""

    async def _journal(self, call: Callable[..., Any], *args: Any) -> Any:
        if self.journal.path is None:
            return call(*args)
        # File locks and fsync: off the event loop, which keeps drawing the dashboard.
        return await asyncio.to_thread(call, *args)


def _taken(draft: Draft, record: JournalRecord) -> str:
    return (
        f"The out_task_id {one_line(draft.out_task_id)} was already used for another request"
        f" ({one_line(record.model, 60) or 'another model'}, {record.at:%Y-%m-%d %H:%M} UTC);"
        " choose another one."
    )


def _ref(task_id: str | None, out_task_id: str) -> TaskRef:
    """How a submitted task is watched: by its task_id, or by the out_task_id when the
    answer had none."""
    if task_id:
        return TaskRef(IdKind.TASK_ID, task_id)
    return TaskRef(IdKind.OUT_TASK_ID, out_task_id)


# --- watching what was submitted ----------------------------------------------------------


def entry_for(submitted: Submitted, added_at: datetime) -> WatchEntry:
    """The watch entry of a submitted task: labelled as the draft says, with its estimate
    and, for a retry, the link to the task it retries."""
    return WatchEntry(
        ref=submitted.ref,
        label=submitted.draft.label,
        added_at=added_at,
        estimated_credits=submitted.estimated_credits,
        retry_of=submitted.draft.retry_of,
    )


def watch(monitor: Monitor, submitted: Submitted) -> Row | None:
    """Add a submitted task to ``monitor``'s watchlist (polled at once); returns its new
    row, or ``None`` when it was watched already."""
    rows = monitor.add([submitted.ref], submitted.draft.label)
    for row in rows:
        row.entry.estimated_credits = submitted.estimated_credits
        row.entry.retry_of = submitted.draft.retry_of
    return rows[0] if rows else None
