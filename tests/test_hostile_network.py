"""Hostile servers, round two: compression bombs in layers, answers about another task, the
API key echoed back, replies nested absurdly deep, and cookies.

The client is tested over ``httpx.MockTransport`` for the fine print and against the
simulator's faults over real sockets (the same faults the demo shows); the dashboard and
``aireiter-tui query`` against the simulator for what a person sees.
"""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from client_fixtures import KEY, envelope, make_client, query_error, reply
from harness import (
    SIZE,
    T0,
    AppFactory,
    StepClock,
    assert_responsive,
    fault_settings,
    pane_text,
    quit_and_load,
    refs_of,
    row_line,
    run_for,
    seed_watchlist,
    settled,
    wait_for,
)

from aireiter_tui.api.client import AIReiterClient
from aireiter_tui.api.mapping import MAX_DEPTH
from aireiter_tui.cli import main
from aireiter_tui.domain.errors import AIReiterError, BadResponseError, WrongTaskError
from aireiter_tui.domain.models import IdKind, TaskRef, TaskStatus
from aireiter_tui.domain.secret import ApiKey
from aireiter_tui.simulator import Fault, ManualClock, Simulator, running_in_thread
from aireiter_tui.simulator.bombs import BOMB_BYTES, layered_bomb
from aireiter_tui.simulator.responses import COOKIE_NAME, DEEP_LISTS, OTHER_TASK_ID
from aireiter_tui.ui.app import AIReiterApp

pytestmark = pytest.mark.sim(seed=3, api_key=KEY)

#: What the client may hold while refusing a bomb: its 1 MB cap plus a small constant.
MEMORY_BOUND = 1_000_000 + 4 * 1024 * 1024
PADDING = b'{"statusCode":200,"message":"","data":{"status":"completed","padding":"'


def pending_task(sim: Simulator) -> str:
    """A new pending task's ``task_id``."""
    data = sim.submit("nano_banana", {"prompt": "p"}, f"hostile_{sim.task_count}")
    ident: str = data["task_id"]
    return ident


async def peak_while(action: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``await action()`` and return its result (or error) and the peak traced memory."""
    tracemalloc.start()
    try:
        try:
            result = await action()
        except AIReiterError as error:
            result = error
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- 1. decompression bombs ------------------------------------------------------------------


@pytest.mark.parametrize(("fault", "coding"), [("gzip_bomb", "gzip"), ("deflate_bomb", "deflate")])
async def test_layered_bomb_is_refused_within_the_cap(
    sim: Simulator, fault: str, coding: str
) -> None:
    """5 KB on the wire, 2 MB after one layer, 2 GB after two: refused as too large once the
    first layer passes 1 MB, and the client never holds much more than that."""
    bomb = layered_bomb(coding)  # built (and cached) before memory is traced
    assert len(bomb) < 8 * 1024
    ident = pending_task(sim)
    sim.set_fault(fault)
    async with AIReiterClient(sim.base_url, ApiKey(KEY)) as client:
        error, peak = await peak_while(lambda: client.query(task_id=ident))
    assert isinstance(error, BadResponseError), error
    assert error.message == "The response was larger than 1 MB once decompressed; not read."
    assert peak < MEMORY_BOUND, f"{peak / 1e6:.0f} MB"


def streamed(status: int, body: bytes, coding: str) -> Callable[[httpx.Request], httpx.Response]:
    """A handler sending ``body`` in 16 KB chunks: httpx reads (and decodes) a response made
    around bytes at once, which would blow up in the handler, not in the client."""

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 16384):
            yield body[start : start + 16384]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=chunks(), headers={"Content-Encoding": coding})

    return handler


def compressed(body: bytes, codings: list[str]) -> bytes:
    """``body`` with ``codings`` applied in order ("deflate-raw": deflate without zlib's
    header and trailer, which some servers send as "deflate")."""
    for coding in codings:
        if coding in ("gzip", "x-gzip"):
            body = gzip.compress(body, 6)
        elif coding == "deflate":
            body = zlib.compress(body, 6)
        else:
            packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
            body = packer.compress(body) + packer.flush()
    return body


CODINGS = [
    ["gzip"],
    ["x-gzip"],
    ["deflate"],
    ["deflate-raw"],
    ["gzip", "deflate"],
    ["deflate", "gzip", "gzip"],
]


@pytest.mark.parametrize("codings", CODINGS, ids=["+".join(c) for c in CODINGS])
async def test_every_coding_is_undone_with_the_cap_on_each_layer(codings: list[str]) -> None:
    """An honest compressed answer is read; the same codings around 64 MB of padding are
    refused while decoding, in little memory, whichever layer holds the bulk."""
    header = ", ".join(c.replace("deflate-raw", "deflate") for c in codings)
    honest = compressed(json.dumps(envelope({"status": "completed"})).encode(), codings)
    async with make_client(reply(200, honest, headers={"Content-Encoding": header})) as client:
        task = await client.query(task_id="order_abc")
    assert task.status is TaskStatus.COMPLETED and task.task_id == "order_abc"

    bomb = compressed(PADDING + b"x" * (64 * 1024 * 1024) + b'"}}', codings)
    async with make_client(streamed(200, bomb, header)) as client:
        error, peak = await peak_while(lambda: client.query(task_id="order_abc"))
    assert isinstance(error, BadResponseError) and "once decompressed" in error.message
    assert peak < MEMORY_BOUND, f"{peak / 1e6:.0f} MB"


@pytest.mark.parametrize(
    ("header", "body", "words"),
    [
        ("br", b"{}", "encoded as 'br', which this client cannot decode"),
        ("compress", b"{}", "encoded as 'compress'"),
        ("gzip, x-made-up", gzip.compress(b"{}"), "encoded as 'x-made-up'"),
        ("gzip, gzip, gzip, gzip", compressed(b"{}", ["gzip"] * 4), "compressed 4 times over"),
        ("gzip", b"\x1f\x8b this is no gzip stream", "compressed wrongly"),
    ],
)
async def test_unknown_too_many_or_broken_codings_are_refused(
    header: str, body: bytes, words: str
) -> None:
    error = await query_error(streamed(200, body, header))
    assert type(error) is BadResponseError
    assert words in error.message and error.message.endswith(".")


async def test_unknown_coding_from_the_simulator_and_what_is_advertised(sim: Simulator) -> None:
    ident = pending_task(sim)
    sim.set_fault(Fault.UNKNOWN_ENCODING, times=1)
    async with AIReiterClient(sim.base_url, ApiKey(KEY)) as client:
        with pytest.raises(BadResponseError, match="encoded as 'br'"):
            await client.query(task_id=ident)
        assert (await client.query(task_id=ident)).status is TaskStatus.PENDING
    assert sim.request_headers[-1]["Accept-Encoding"] == "gzip, deflate"


async def test_error_status_with_a_bomb_only_loses_its_message() -> None:
    bomb = compressed(b"x" * (64 * 1024 * 1024), ["gzip", "gzip"])
    async with make_client(streamed(503, bomb, "gzip, gzip")) as client:
        error, peak = await peak_while(lambda: client.query(task_id="order_abc"))
    assert isinstance(error, AIReiterError) and "(HTTP 503)." in error.message
    assert peak < MEMORY_BOUND


# --- 2. an answer about another task ---------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "data"),
    [
        (TaskRef(IdKind.TASK_ID, "order_mine"), {"task_id": "order_x", "status": "pending"}),
        (TaskRef(IdKind.OUT_TASK_ID, "mine"), {"out_task_id": "theirs", "status": "failed"}),
        (TaskRef(IdKind.TASK_ID, "order_mine"), {"task_id": 12345, "status": "pending"}),
    ],
)
async def test_answer_about_another_task_is_an_error_of_the_query(
    ref: TaskRef, data: dict[str, Any]
) -> None:
    async with make_client(reply(200, envelope(data))) as client:
        with pytest.raises(WrongTaskError) as caught:
            await client.query_ref(ref)
    other = str(data.get("task_id", data.get("out_task_id")))
    assert caught.value.human() == (
        f"The server answered with another task ({other}) than the one asked ({ref.id})."
    )
    assert isinstance(caught.value, BadResponseError) and caught.value.label == "wrong task"


async def test_an_answer_omitting_or_echoing_the_id_is_fine() -> None:
    answers = [
        envelope({"status": "pending"}),
        envelope({"task_id": None, "out_task_id": "", "status": "pending"}),
        envelope({"task_id": "order_mine", "out_task_id": "mine", "status": "pending"}),
        envelope({"task_id": "order_other_id_of_mine", "out_task_id": "mine", "status": "pending"}),
    ]
    for answer in answers:
        async with make_client(reply(200, answer)) as client:
            by_out = await client.query_ref(TaskRef(IdKind.OUT_TASK_ID, "mine"))
        assert by_out.out_task_id == "mine"
    for answer in answers[:3]:
        async with make_client(reply(200, answer)) as client:
            by_id = await client.query_ref(TaskRef(IdKind.TASK_ID, "order_mine"))
        assert by_id.task_id == "order_mine"


# --- 3. the API key echoed back --------------------------------------------------------------


async def test_key_echoed_anywhere_in_the_answer_is_masked() -> None:
    echoed = {
        "status": "completed",
        "input": {"model": "m", "params": {"prompt": f"a cat (Bearer {KEY})"}},
        "output": [{"url": f"https://cdn.example/x.png?token={KEY}&n=1"}],
        "error": {"message": f"token {KEY} over quota", "trace": [[[{"k": [KEY]}]]]},
        "metadata": {KEY: KEY * 2, "note": f"prefix{KEY}suffix"},
    }
    async with make_client(reply(200, envelope(echoed, message=KEY))) as client:
        task = await client.query(task_id="order_abc")
    dumped = json.dumps(task.raw) + repr(task)
    assert KEY not in dumped
    assert task.prompt == "a cat (Bearer ********)"
    assert task.outputs[0].url == "https://cdn.example/x.png?token=********&n=1"
    assert task.failure is not None and task.failure.message == "token ******** over quota"
    assert task.metadata == {"********": "****************", "note": "prefix********suffix"}


# --- 4. deep nesting -------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    """An envelope whose ``data.metadata.deep`` makes the whole ``depth`` levels deep."""
    lists = depth - 3  # the envelope, data and metadata are three levels
    return (
        b'{"statusCode":200,"message":"","data":{"status":"pending","metadata":{"deep":'
        + b"[" * lists
        + b"]" * lists
        + b"}}}"
    )


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, DEEP_LISTS + 3, 50_000])
async def test_answer_nested_too_deep_is_refused(depth: int) -> None:
    """Refused with a sentence (one level less is read); under an error status the status
    stands and the deep body gives no message."""
    async with make_client(reply(200, nested(MAX_DEPTH))) as client:
        assert (await client.query(task_id="order_abc")).status is TaskStatus.PENDING
    error = await query_error(reply(200, nested(depth)))
    assert type(error) is BadResponseError
    assert error.message == (
        f"The server's answer for task order_abc is nested more than {MAX_DEPTH} levels deep;"
        " not read."
    )
    deep_error = nested(depth).replace(b'"message":""', b'"message":"upstream said no"')
    error = await query_error(reply(502, deep_error))
    assert error.message == "The server had an internal error (HTTP 502)."


# --- 5. cookies ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_cookies_the_server_sets_are_never_sent_back(sim: Simulator, host: str) -> None:
    """httpx keeps cookies of 127.0.0.1, aiohttp those of a host name: neither may."""
    ident = pending_task(sim)
    sim.set_fault(Fault.SET_COOKIE)
    base = sim.base_url.replace("127.0.0.1", host)
    async with AIReiterClient(base, ApiKey(KEY)) as client:
        for _ in range(3):
            await client.query(task_id=ident)
        await client.submit(model="nano_banana", params={"prompt": "p"}, out_task_id="mine_1")
    assert len(sim.request_headers) == 4
    assert all("Cookie" not in headers for headers in sim.request_headers)


async def test_mock_cookie_is_not_kept() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        body = envelope({"status": "pending"})
        return httpx.Response(200, json=body, headers={"Set-Cookie": "s=1; Path=/"})

    async with make_client(handler) as client:
        await client.query(task_id="order_abc")
        await client.query(task_id="order_abc")
    assert seen == [None, None]


# --- the simulator's new faults, as a raw client sees them -----------------------------------


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        yield session


async def raw_query(
    http: aiohttp.ClientSession, sim: Simulator, ident: str
) -> tuple[dict[str, str], bytes]:
    headers = {"Authorization": f"Bearer {KEY}", "X-Probe": "1"}
    url = f"{sim.base_url}/api/openapi/query"
    async with http.post(url, json={"task_id": ident}, headers=headers) as response:
        return dict(response.headers), await response.read()


async def test_simulator_hostile_faults_on_the_wire(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    ident = pending_task(sim)

    sim.set_fault(Fault.GZIP_BOMB, times=1)
    headers, body = await raw_query(http, sim, ident)
    assert headers["Content-Encoding"] == "gzip, gzip" and len(body) < 8 * 1024
    inner = gzip.decompress(body)
    assert 1_900_000 < len(inner) < 2_200_000
    first = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(inner, 200)
    assert first.startswith(PADDING) and BOMB_BYTES == 2 * 1024**3

    sim.set_fault(Fault.UNKNOWN_ENCODING, times=1)
    headers, body = await raw_query(http, sim, ident)
    assert headers["Content-Encoding"] == "br" and json.loads(body)["data"]["task_id"] == ident

    sim.set_fault(Fault.ANOTHER_TASK, times=1)
    data = json.loads((await raw_query(http, sim, ident))[1])["data"]
    assert data["task_id"] == OTHER_TASK_ID != ident

    sim.set_fault(Fault.ECHO_KEY, times=1)
    _, body = await raw_query(http, sim, ident)
    assert body.count(KEY.encode()) >= 5

    sim.set_fault(Fault.DEEP_NESTING, times=1)
    _, body = await raw_query(http, sim, ident)
    assert len(body) < 2500 and b"[" * DEEP_LISTS in body and json.loads(body)

    sim.set_fault(Fault.SET_COOKIE, times=1)
    headers, _ = await raw_query(http, sim, ident)
    assert headers["Set-Cookie"].startswith(f"{COOKIE_NAME}=")

    recorded = sim.request_headers[-1]
    assert recorded["X-Probe"] == "1" and "Authorization" not in recorded


# --- what a person sees: the dashboard and `aireiter-tui query` ------------------------------


class Watched:
    """Four pending tasks on the simulator, in a watchlist, and the app watching them."""

    def __init__(self, sim: Simulator, tmp_path: Path, app_factory: AppFactory) -> None:
        self.sim = sim
        self.refs = refs_of(sim.add_tasks(4, status_mix={"pending": 1.0}))
        self.path = tmp_path / "w.toml"
        seed_watchlist(self.path, self.refs)
        settings = fault_settings(sim.base_url, KEY)
        self.app: AIReiterApp = app_factory(settings, watchlist=self.path, frozen_at=T0)

    @property
    def victim(self) -> TaskRef:
        return self.refs[1]  # where assert_responsive leaves the cursor


@pytest.fixture
def watched(sim: Simulator, tmp_path: Path, app_factory: AppFactory) -> Watched:
    return Watched(sim, tmp_path, app_factory)


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (Fault.ANOTHER_TASK, f"answered with another task ({OTHER_TASK_ID})"),
        (Fault.DEEP_NESTING, f"nested more than {MAX_DEPTH} levels deep"),
        (Fault.GZIP_BOMB, "larger than 1 MB once decompressed"),
    ],
)
async def test_row_keeps_its_task_and_says_why(
    watched: Watched, clock: StepClock, fault: Fault, words: str
) -> None:
    app, sim, victim = watched.app, watched.sim, watched.victim
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: settled(app) and sim.request_count >= 4, "a first round")
        sim.set_fault(fault, task_id=victim.id)
        await run_for(pilot, app, clock, 4)
        row = app.monitor.session.rows[victim.key]
        assert isinstance(row.error, BadResponseError) and words in row.error.human()
        assert row.task is not None and row.task.status is TaskStatus.PENDING
        assert row.task.task_id == victim.id
        assert "⚠" in row_line(app, victim.id)
        await assert_responsive(pilot, app)
        assert words in pane_text(app)
        saved = await quit_and_load(pilot, app, watched.path)
    assert sorted(saved) == sorted(watched.refs)


async def test_echoed_key_reaches_neither_screen_nor_files(
    watched: Watched, clock: StepClock, tmp_path: Path
) -> None:
    app, sim = watched.app, watched.sim
    sim.set_fault(Fault.ECHO_KEY)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: settled(app) and sim.request_count >= 4, "a first round")
        await assert_responsive(pilot, app)
        row = app.monitor.session.rows[watched.victim.key]
        assert row.task is not None and row.task.status is TaskStatus.COMPLETED
        assert "requested with Bearer ********" in pane_text(app)
        assert KEY not in pane_text(app) and KEY not in app.export_screenshot()
        await quit_and_load(pilot, app, watched.path)
    files = [file for file in tmp_path.rglob("*") if file.is_file()]
    assert len(files) >= 2  # the watchlist and its snapshot cache
    for file in files:
        assert KEY.encode() not in file.read_bytes(), file


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Simulator, str]]:
    """A simulator on its own thread, and a private environment holding its key."""
    monkeypatch.setenv("AIREITER_TUI_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("AIREITER_TUI_WATCHLIST", str(tmp_path / "watchlist.toml"))
    monkeypatch.delenv("AIREITER_BASE_URL", raising=False)
    monkeypatch.setenv("AIREITER_API_KEY", KEY)
    sim = Simulator(seed=4, clock=ManualClock(), api_key=KEY)
    with running_in_thread(sim) as base:
        yield sim, base


def test_query_command_refuses_an_answer_about_another_task(
    served: tuple[Simulator, str], capsys: pytest.CaptureFixture[str]
) -> None:
    sim, base = served
    ident = pending_task(sim)
    sim.set_fault(Fault.ANOTHER_TASK)
    assert main(["--base-url", base, "query", ident]) == 4
    out, err = capsys.readouterr()
    assert out == "" and OTHER_TASK_ID not in out
    assert err == (
        f"aireiter-tui: {ident}: The server answered with another task ({OTHER_TASK_ID})"
        f" than the one asked ({ident}).\n"
    )


@pytest.mark.parametrize("as_json", [False, True])
def test_query_command_never_prints_an_echoed_key(
    served: tuple[Simulator, str], capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    sim, base = served
    ident = pending_task(sim)
    sim.set_fault(Fault.ECHO_KEY)
    assert main(["--base-url", base, "query", ident, *(["--json"] if as_json else [])]) == 0
    out, err = capsys.readouterr()
    assert KEY not in out + err and "********" in out
