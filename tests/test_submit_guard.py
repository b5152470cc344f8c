"""Submitting through the duplicate guard, over real sockets: a task is made once, however
its answer is lost and however often submit is pressed; it joins the watchlist and is
polled; a failed task is retried with the same model and params, linked to the new one."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from harness import TIMEOUT, settings_for

from aireiter_tui.api.client import AIReiterClient
from aireiter_tui.domain import submitting
from aireiter_tui.domain.drafts import Draft, NotRetryable, parse_json_object, retry_draft
from aireiter_tui.domain.errors import (
    BadResponseError,
    NotSentError,
    RateLimitedError,
    RejectedError,
    ServerError,
)
from aireiter_tui.domain.models import IdKind, TaskRef, TaskStatus
from aireiter_tui.domain.monitor import Monitor
from aireiter_tui.domain.secret import ApiKey
from aireiter_tui.domain.submitting import (
    ACCEPTED,
    REJECTED,
    UNKNOWN,
    JournalRecord,
    SubmitError,
    SubmitJournal,
    SubmitRefused,
    SubmitRejected,
    Submitter,
    SubmitUnknown,
    watch,
)
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import retries_of
from aireiter_tui.simulator import Fault, Simulator

KEY = "sim-demo-key"
FOX: dict[str, Any] = {"prompt": "a red fox", "output_n": 2}


@pytest.fixture
def journal(tmp_path: Path) -> SubmitJournal:
    return SubmitJournal.beside(tmp_path / "watchlist.toml")


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[AIReiterClient]:
    async with AIReiterClient(sim.base_url, ApiKey(KEY), timeout=TIMEOUT) as made:
        yield made


def draft(out: str = "fox-1", **changes: Any) -> Draft:
    values: dict[str, Any] = {"model": "nano_banana_pro", "params": dict(FOX), "out_task_id": out}
    values.update(changes)
    return Draft(**values)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Let the loop run until ``condition()`` holds (a bound on turns, not on time)."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"gave up waiting for {what}")


async def test_a_submit_joins_the_watchlist_with_its_estimate_and_is_polled(
    sim: Simulator, client: AIReiterClient, journal: SubmitJournal, tmp_path: Path
) -> None:
    submitted = await Submitter(client, journal).submit(draft(label="foxes"))
    assert submitted.ref.kind is IdKind.TASK_ID and submitted.ref.id == submitted.task_id
    assert submitted.estimated_credits == 400.0  # 200 a picture, two pictures
    assert submitted.status == "pending" and not submitted.already
    assert sim.task_status(submitted.ref.id) == "pending"
    monitor = Monitor(WatchlistStore(tmp_path / "watchlist.toml"), settings_for(sim))
    monitor.load()
    row = watch(monitor, submitted)
    assert row is not None and row.label == "foxes"
    assert row.entry.estimated_credits == 400.0
    monitor.connect(client)
    polling = asyncio.create_task(monitor.run(save_interval=3600))
    try:
        await until(lambda: row.task is not None, "the first poll")
    finally:
        polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)
    assert row.task is not None and row.task.status is TaskStatus.PENDING
    assert row.task.model == "nano_banana_pro" and row.task.input is not None
    assert row.task.input.params == FOX
    assert watch(monitor, submitted) is None  # watched already: no second row


async def test_an_answer_without_task_id_is_watched_by_out_task_id(
    sim: Simulator, client: AIReiterClient, journal: SubmitJournal
) -> None:
    sim.omit_task_id_probability = 1.0
    submitted = await Submitter(client, journal).submit(draft("no-id-1"))
    assert submitted.task_id is None
    assert submitted.ref == TaskRef(IdKind.OUT_TASK_ID, "no-id-1")


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"output_n": 2}, 'need a "prompt"'),
        ({"prompt": "  "}, '"prompt" is empty'),
        ({"prompt": 7}, '"prompt" must be a string, not a number'),
        (["a fox"], "must be a JSON object"),
        ({"prompt": "x", "seed": float("nan")}, "NaN"),
    ],
)
async def test_bad_params_are_refused_before_anything_is_sent(
    sim: Simulator, client: AIReiterClient, journal: SubmitJournal, params: Any, reason: str
) -> None:
    with pytest.raises(SubmitRefused) as refused:
        await Submitter(client, journal).submit(draft(params=params))
    assert reason in str(refused.value) and refused.value.accepted is False
    assert sim.request_count == 0 and journal.records() == {}


async def test_json_the_dialog_cannot_read_is_refused_with_where(
    sim: Simulator, client: AIReiterClient, journal: SubmitJournal
) -> None:
    params, problem = parse_json_object('{"prompt": "a fox",\n "output_n": 2,}')
    assert params is None
    assert problem.startswith("The params are not valid JSON:") and "line 2" in problem
    assert parse_json_object("[1]")[1] == "The params must be a JSON object ({...}), not a list."
    with pytest.raises(SubmitRefused, match="Choose a model"):
        await Submitter(client, journal).submit(draft(model=" "))
    assert sim.request_count == 0


async def test_a_lost_answer_is_found_by_out_task_id_and_the_task_made_once(
    sim: Simulator, client: AIReiterClient, journal: SubmitJournal
) -> None:
    sim.set_fault(Fault.LOST_ANSWER, task_id="lost-1", times=1)
    submitter = Submitter(client, journal)
    submitted = await submitter.submit(draft("lost-1"))
    assert submitted.answer is None and submitted.task is not None and not submitted.already
    assert submitted.task_id and sim.task_status(submitted.task_id) == "pending"
    assert "answer was lost" in submitted.sentence()
    again = await submitter.submit(draft("lost-1"))  # pressed again: nothing is sent
    assert again.already and again.ref == submitted.ref
    assert sim.task_count == 1 and sim.submits_by_out_task_id["lost-1"] == 1
    assert journal.latest("lost-1") is not None
    assert journal.latest("lost-1").state == ACCEPTED  # type: ignore[union-attr]


async def test_a_timeout_is_unknown_until_the_server_is_asked(
    sim: Simulator, client: AIReiterClient, tmp_path: Path
) -> None:
    # The answer is lost, and so is the first question about it.
    sim.set_fault(Fault.LOST_ANSWER, task_id="late-1", times=1, delay=30)
    sim.set_fault(Fault.HTTP_503, task_id="late-1", times=1)
    async with AIReiterClient(sim.base_url, ApiKey(KEY), timeout=0.3) as hasty:
        with pytest.raises(SubmitUnknown) as unknown:
            await Submitter(hasty, SubmitJournal.beside(tmp_path / "w.toml")).submit(
                draft("late-1")
            )
    assert unknown.value.accepted is None
    assert str(unknown.value).startswith("Unknown whether late-1 was accepted: The request")
    assert "timed out" in str(unknown.value) and "asks the server first" in str(unknown.value)
    # Another program (a new Submitter on the same journal) sees the journal and asks.
    again = await Submitter(client, SubmitJournal.beside(tmp_path / "w.toml")).submit(
        draft("late-1")
    )
    assert again.already and again.task is not None
    assert sim.task_count == 1 and sim.submits_by_out_task_id["late-1"] == 1


async def test_not_found_after_an_unclear_failure_sends_it_again(
    sim: Simulator, client: AIReiterClient, journal: SubmitJournal
) -> None:
    sim.set_fault(Fault.HTTP_502, task_id="proxy-1", times=1)  # the service never saw it
    submitter = Submitter(client, journal)
    with pytest.raises(SubmitUnknown, match="does not know it yet"):
        await submitter.submit(draft("proxy-1"))
    assert sim.task_count == 0 and journal.latest("proxy-1").state == UNKNOWN  # type: ignore[union-attr]
    submitted = await submitter.submit(draft("proxy-1"))
    assert not submitted.already and submitted.answer is not None
    assert sim.task_count == 1 and sim.submits_by_out_task_id["proxy-1"] == 2


async def test_a_clear_refusal_makes_no_task_and_may_be_sent_again(
    sim: Simulator, client: AIReiterClient, journal: SubmitJournal
) -> None:
    submitter = Submitter(client, journal)
    with pytest.raises(SubmitRejected) as rejected:
        await submitter.submit(draft("r-1", model="dall_e_9"))
    assert isinstance(rejected.value.error, RejectedError) and rejected.value.accepted is False
    assert "Unsupported model: dall_e_9" in str(rejected.value)
    assert journal.latest("r-1").state == REJECTED  # type: ignore[union-attr]
    sim.set_fault(Fault.RATE_LIMIT, times=1, retry_after=3)
    with pytest.raises(SubmitRejected) as limited:
        await submitter.submit(draft("r-1"))
    assert isinstance(limited.value.error, RateLimitedError)
    assert (await submitter.submit(draft("r-1"))).answer is not None
    assert sim.task_count == 1 and sim.request_count == 3  # no query was needed


async def test_two_presses_at_once_send_once(
    sim: Simulator, client: AIReiterClient, journal: SubmitJournal
) -> None:
    sim.latency_ms = 50  # the first is still on the wire when the second comes
    submitter = Submitter(client, journal)
    first, second = await asyncio.gather(
        submitter.submit(draft("twice-1")), submitter.submit(draft("twice-1"))
    )
    assert first == second
    assert sim.task_count == 1 and sim.submits_by_out_task_id["twice-1"] == 1


async def test_an_out_task_id_used_for_another_request_is_refused(
    sim: Simulator, client: AIReiterClient, journal: SubmitJournal
) -> None:
    submitter = Submitter(client, journal)
    await submitter.submit(draft("same-1"))
    with pytest.raises(SubmitRefused, match="already used for another request"):
        await submitter.submit(draft("same-1", params={"prompt": "a blue fox"}))
    assert sim.task_count == 1 and sim.submits_by_out_task_id["same-1"] == 1


async def test_retry_sends_the_same_model_and_params_under_a_new_linked_id(
    sim: Simulator, client: AIReiterClient, journal: SubmitJournal, tmp_path: Path
) -> None:
    sim.submit("seedream_v4", {"prompt": "a lighthouse", "resolution": "4K"}, "shot-7")
    sim.force_status("shot-7", "failed")
    old = TaskRef(IdKind.OUT_TASK_ID, "shot-7")
    monitor = Monitor(WatchlistStore(tmp_path / "watchlist.toml"), settings_for(sim))
    monitor.load()
    monitor.add([old], "lighthouse")
    failed = await client.query_ref(old)
    monitor.session.apply(old, failed, None)
    taken = {"shot-7", "shot-7-r1"}  # a task watched elsewhere holds -r1 already
    retry = retry_draft(old, failed, taken, label="lighthouse")
    assert retry.out_task_id == "shot-7-r2" and retry.retry_of == old
    assert (retry.model, retry.params) == ("seedream_v4", failed.input.params)  # type: ignore[union-attr]
    submitted = await Submitter(client, journal).submit(retry)
    row = watch(monitor, submitted)
    assert row is not None and row.label == "lighthouse" and row.entry.retry_of == old
    entries = [row.entry for row in monitor.session.rows.values()]
    assert retries_of(entries, old) == [submitted.ref]
    made = await client.query_ref(submitted.ref)
    assert made.model == "seedream_v4" and made.input is not None
    assert made.input.params == {"prompt": "a lighthouse", "resolution": "4K"}
    assert journal.retries_of(old)[0].out_task_id == "shot-7-r2"


async def test_only_a_failed_task_with_its_input_is_retried(
    sim: Simulator, client: AIReiterClient
) -> None:
    sim.submit("gpt_4o", {"prompt": "x"}, "fine-1")
    ref = TaskRef(IdKind.OUT_TASK_ID, "fine-1")
    task = await client.query_ref(ref)
    with pytest.raises(NotRetryable, match="fine-1 is pending, not failed"):
        retry_draft(ref, task, set())
    with pytest.raises(NotRetryable, match="has not been fetched yet"):
        retry_draft(ref, None, set())


async def test_the_client_tells_refusals_and_unsent_requests_from_unclear_failures(
    sim: Simulator, client: AIReiterClient
) -> None:
    params: dict[str, Any] = {"prompt": "x"}
    with pytest.raises(RejectedError, match="Unsupported model: dall_e"):
        await client.submit(model="dall_e", params=params, out_task_id="r-1")
    sim.set_fault(Fault.HTTP_502, times=1)
    with pytest.raises(ServerError) as proxy:
        await client.submit(model="gpt_4o", params=params, out_task_id="r-2")
    assert not isinstance(proxy.value, RejectedError)
    sim.set_fault(Fault.ENVELOPE_ERROR, times=1)  # a 500 inside an HTTP 200
    with pytest.raises(BadResponseError) as envelope:
        await client.submit(model="gpt_4o", params=params, out_task_id="r-3")
    assert type(envelope.value) is BadResponseError
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with AIReiterClient(f"http://127.0.0.1:{port}", ApiKey(KEY)) as nowhere:
        with pytest.raises(NotSentError, match="refused the connection"):
            await nowhere.submit(model="gpt_4o", params=params, out_task_id="r-4")


async def test_without_a_usable_journal_nothing_is_sent(
    sim: Simulator, client: AIReiterClient, tmp_path: Path
) -> None:
    (tmp_path / "watchlist.toml.submits").mkdir()  # where the journal should be
    with pytest.raises(SubmitError) as stopped:
        await Submitter(client, SubmitJournal.beside(tmp_path / "watchlist.toml")).submit(draft())
    assert str(stopped.value).startswith("Not submitted: the submit journal ")
    assert "a lost answer could make a second task" in str(stopped.value)
    assert sim.request_count == 0


def test_the_journal_skips_damage_and_stays_small(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(submitting, "MAX_JOURNAL_BYTES", 2000)
    monkeypatch.setattr(submitting, "KEEP_RECORDS", 3)
    journal = SubmitJournal.beside(tmp_path / "watchlist.toml")
    at = datetime(2025, 12, 18, 10, 0, tzinfo=UTC)

    def record(out: str, state: str, minute: int) -> JournalRecord:
        return JournalRecord(out, state, at + timedelta(minutes=minute), "f", "gpt_4o")

    journal.write(record("lost-0", UNKNOWN, 0))
    with open(journal.path, "a") as handle:  # type: ignore[arg-type]
        handle.write('{"out_task_id": "cut-sh')  # a crash in the middle of a line
        handle.write("\n")
    for minute in range(1, 30):
        journal.write(record(f"done-{minute}", ACCEPTED, minute))
    kept = journal.records()
    assert journal.path is not None and journal.path.stat().st_size <= 2000 + 200
    assert "lost-0" in kept and kept["lost-0"].state == UNKNOWN  # unresolved: always kept
    assert {"done-29", "done-28"} <= set(kept) and "done-1" not in kept
    assert journal.unresolved_like("f") == kept["lost-0"]
