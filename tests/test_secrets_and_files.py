"""The API key stays secret, and the user's files survive every failure, at app level.

Store-level file safety (atomic replace, kill mid-save, two processes, ENOSPC, read-only
folder, loader fuzz) is in ``test_watchlist.py``; here: the key on screen, in files, logs,
errors and reprs, redirects, plain http; and what the running app does with a corrupt,
wrong-typed or unreadable watchlist, a full disk, and another process adding tasks.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from harness import (
    SIZE,
    T0,
    AppFactory,
    assert_responsive,
    banner_text,
    fault_settings,
    refs_of,
    seed_watchlist,
    settled,
    wait_for,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import aireiter_tui.domain.watchlist as watchlist_module
from aireiter_tui.api.client import AIReiterClient
from aireiter_tui.api.mapping import interpret
from aireiter_tui.domain.config import write_config
from aireiter_tui.domain.errors import AIReiterError, BadResponseError
from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.poller import PollOutcome
from aireiter_tui.domain.secret import ApiKey
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.simulator import Fault, Simulator

KEY = "sk-live-SECRET-0123456789abcdef"
WRONG = "sk-live-WRONG-fedcba9876543210"
ROOT = Path(__file__).resolve().parents[1]


def assert_no_key(text: str) -> None:
    for key in (KEY, WRONG, KEY[8:24], WRONG[8:24]):
        assert key not in text


def _three_tasks(sim: Simulator) -> None:
    sim.add_tasks(3, status_mix={"pending": 0.5, "completed": 0.5})


pytestmark = pytest.mark.sim(seed=0, api_key=KEY, setup=_three_tasks)


def watch_all(sim: Simulator, path: Path) -> None:
    seed_watchlist(path, refs_of(sim.add_tasks(3, status_mix={"completed": 1.0})))


# --- the key ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [KEY, WRONG])
async def test_key_never_on_screen_in_files_or_logs(
    sim: Simulator,
    tmp_path: Path,
    app_factory: AppFactory,
    key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "w.toml"
    watch_all(sim, path)
    sim.set_fault(Fault.HTTP_502, times=1)
    app = app_factory(fault_settings(sim.base_url, key), watchlist=path, frozen_at=T0)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: settled(app) and sim.request_count >= 3, "the first round")
        if key == WRONG:
            assert "refused the API key" in banner_text(app)
        for keys in ((), ("question_mark",), ("escape", "a"), ("escape", "l"), ("escape",)):
            await pilot.press(*keys)
            await pilot.pause()
            assert_no_key(app.export_screenshot())
        assert_no_key(repr(app.backend))
        assert_no_key(repr(app.backend.settings) + str(app.backend.settings))
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "the app to quit")
    for file in tmp_path.iterdir():
        if file.is_file():
            assert_no_key(file.read_bytes().decode("utf-8", "replace"))
    assert_no_key(caplog.text)


async def test_client_errors_carry_no_key_for_any_fault(sim: Simulator) -> None:
    ident = refs_of(sim.add_tasks(1, status_mix={"completed": 1.0}))[0].id
    async with AIReiterClient(sim.base_url, ApiKey(KEY), timeout=0.3) as client:
        for fault in Fault:
            sim.clear_faults()
            sim.set_fault(fault, delay=5)
            try:
                await client.query(task_id=ident)
            except AIReiterError as error:
                shown = "".join(traceback.format_exception(error)) + repr(error) + error.human()
                assert_no_key(shown)
                assert error.__context__ is None and error.__cause__ is None
    async with AIReiterClient(sim.base_url, ApiKey(WRONG)) as client:
        with pytest.raises(AIReiterError) as caught:
            await client.query(task_id=ident)
        assert_no_key("".join(traceback.format_exception(caught.value)))


def test_config_with_a_key_is_private(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "config.toml"
    write_config(path, {"api_key": KEY, "theme": "nord"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    write_config(path, {"api_key": KEY, "theme": "dracula"})  # a rewrite stays private
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_key_not_sent_to_the_host_a_redirect_names() -> None:
    seen: list[str | None] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"statusCode": 200, "data": {"status": "completed"}})

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(f"http://127.0.0.1:{other}/api/openapi/query")

    runners = []
    for handler in (record, redirect):
        app = web.Application()
        app.router.add_post("/api/openapi/query", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
    other, first = (runner.addresses[0][1] for runner in runners)
    try:
        async with AIReiterClient(f"http://127.0.0.1:{first}", ApiKey(KEY)) as client:
            with pytest.raises(BadResponseError, match="redirected") as caught:
                await client.query(task_id="t1")
            assert_no_key(str(caught.value))
        assert seen == []
    finally:
        for runner in runners:
            await runner.cleanup()


async def test_plain_http_to_another_host_is_refused_before_any_request(
    tmp_path: Path, app_factory: AppFactory
) -> None:
    path = tmp_path / "w.toml"
    seed_watchlist(path, [])
    app = app_factory(fault_settings("http://example.invalid", KEY), watchlist=path, frozen_at=T0)
    assert app.backend.settings.allow_insecure_http is False
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.backend.problem is not None, "the refusal")
        assert app.backend.client is None
        assert "allow-insecure-http" in banner_text(app)
        assert_no_key(app.export_screenshot())


# --- the client's response mapping -----------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
ENVELOPES = st.fixed_dictionaries(
    {},
    optional={
        "statusCode": st.sampled_from([200, 401, 404, 429, 500, "200", None]) | JSON_VALUES,
        "message": st.sampled_from(["", "not found", KEY, f"bad key {KEY}"]) | JSON_VALUES,
        "data": JSON_VALUES,
    },
)
BODIES = st.binary(max_size=200) | ENVELOPES.map(lambda value: json.dumps(value).encode())
HEADERS = st.dictionaries(
    st.sampled_from(["content-type", "retry-after"]),
    st.sampled_from(["application/json", "text/html", "1", "-5", "nan", "Wed, 21 Oct 2015"]),
)


@settings(max_examples=300, deadline=None)
@given(
    status=st.integers(100, 599),
    headers=HEADERS,
    raw=st.none() | BODIES,
    endpoint=st.sampled_from(["query", "submit"]),
)
def test_any_answer_maps_to_data_or_a_keyless_error(
    status: int, headers: dict[str, str], raw: bytes | None, endpoint: str
) -> None:
    result: Any = interpret(
        status, headers, raw, subject="task t", endpoint=endpoint, api_key=ApiKey(KEY)
    )
    if isinstance(result, dict):
        assert 200 <= status < 300
    else:
        assert isinstance(result, AIReiterError), result
        assert_no_key(result.human() + repr(result))


# --- the user's files, with the app running ------------------------------------------------


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"[[tasks]\nid = ", "not valid TOML"),
        (b"tasks = 3\n", "tasks"),
        (b"\xff\xfe garbage", "not UTF-8"),
    ],
)
async def test_unreadable_watchlist_is_kept_byte_for_byte(
    sim: Simulator, tmp_path: Path, app_factory: AppFactory, content: bytes, words: str
) -> None:
    path = tmp_path / "w.toml"
    path.write_bytes(content)
    app = app_factory(fault_settings(sim.base_url, KEY), watchlist=path, frozen_at=T0)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.problems), "the banner")
        assert words in banner_text(app) and "left as it is" in banner_text(app)
        app.monitor.session.dirty = True  # even with something to save, nothing is written
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "the app to quit")
    assert path.read_bytes() == content


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
async def test_watchlist_without_read_permission_is_left_alone(
    sim: Simulator, tmp_path: Path, app_factory: AppFactory
) -> None:
    path = tmp_path / "w.toml"
    watch_all(sim, path)
    path.chmod(0)
    try:
        app = app_factory(fault_settings(sim.base_url, KEY), watchlist=path, frozen_at=T0)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: bool(app.problems), "the banner")
            assert "permission denied" in banner_text(app)
            await pilot.press("q")
            await wait_for(pilot, lambda: not app.is_running, "the app to quit")
    finally:
        path.chmod(0o600)
    assert len(WatchlistStore(path).load()) == 3


async def test_full_disk_on_save_notifies_keeps_running_and_retries(
    sim: Simulator, tmp_path: Path, app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.toml"
    watch_all(sim, path)
    before = path.read_bytes()
    real = watchlist_module.replace_atomically
    full = [True]

    def replace(target: Path, blob: bytes, prefix: str, *, durable: bool) -> None:
        if full[0] and target == path:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(target, blob, prefix, durable=durable)

    monkeypatch.setattr(watchlist_module, "replace_atomically", replace)
    added = TaskRef(IdKind.TASK_ID, "added_while_the_disk_is_full")
    app = app_factory(fault_settings(sim.base_url, KEY), watchlist=path, frozen_at=T0)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: settled(app) and sim.request_count >= 3, "the first round")
        app.monitor.session.add([added])  # the TOML must change (snapshots live in the cache)
        await wait_for(
            pilot, lambda: any(n.title == "Not saved" for n in app._notifications), "Not saved"
        )
        message = next(n.message for n in app._notifications if n.title == "Not saved")
        assert "no space left on device" in message and "Nothing was lost" in message
        assert path.read_bytes() == before
        await assert_responsive(pilot, app)
        full[0] = False
        await wait_for(pilot, lambda: path.read_bytes() != before, "a later save succeeds")
        assert not app.monitor.session.dirty
    loaded = WatchlistStore(path).load()
    assert loaded[-1].ref == added
    assert all(e.task is not None for e in loaded[:-1])


CHILD_ADD = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry
store = WatchlistStore(Path(sys.argv[1]))
now = datetime.now(UTC)
store.save([WatchEntry(TaskRef(IdKind.TASK_ID, f"other-{i}"), None, now) for i in range(20)])
"""


async def test_another_process_adding_while_the_app_runs_loses_nothing(
    sim: Simulator, tmp_path: Path, app_factory: AppFactory
) -> None:
    path = tmp_path / "w.toml"
    watch_all(sim, path)
    app = app_factory(fault_settings(sim.base_url, KEY), watchlist=path, frozen_at=T0)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: settled(app) and sim.request_count >= 3, "the first round")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        child = subprocess.run([sys.executable, "-c", CHILD_ADD, str(path)], env=env, check=False)
        assert child.returncode == 0
        # The app's next save merges the file and adopts the other process's tasks.
        await wait_for(pilot, lambda: len(app.monitor.session.rows) == 23, "the app adopts them")
        # Quit only once their first round is applied (see the test below for why).
        await wait_for(pilot, lambda: settled(app) and sim.request_count >= 23, "their first round")
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "the app to quit")
    assert len(WatchlistStore(path).load()) == 23


async def test_quitting_with_answers_not_yet_shown_still_saves_them(
    sim: Simulator, tmp_path: Path, app_factory: AppFactory
) -> None:
    path = tmp_path / "w.toml"
    refs = refs_of(sim.add_tasks(2, status_mix={"completed": 1.0}))
    seed_watchlist(path, refs)
    app = app_factory(fault_settings(sim.base_url, KEY), watchlist=path, frozen_at=T0)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: settled(app) and sim.request_count >= 2, "the first round")
        task = app.monitor.session.rows[refs[0].key].task
        assert task is not None
        # An answer that arrived after the last flush, as when q is pressed mid-round.
        assert isinstance(task.raw, dict)  # (the cache keeps the reply: a changed one)
        changed = parse_task({**task.raw, "credits_used": 12345})
        app.monitor.record(PollOutcome(refs[0], changed))
        await pilot.press("q")
    saved = {e.ref: e.task for e in WatchlistStore(path).load()}[refs[0]]
    assert saved is not None and saved.credits_used == 12345.0
