"""OutputCache against the simulator over real sockets: each URL fetched once, dead links
named, hostile bodies refused, the size bound kept, the index surviving a restart."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from aireiter_tui.domain.media_info import MediaKind
from aireiter_tui.domain.output_cache import Fetched, OutputCache
from aireiter_tui.domain.output_fetch import LinkState, link_state_for_status
from aireiter_tui.simulator import Simulator
from aireiter_tui.simulator.output_files import OutputFault

MB = 1_000_000


def completed_outputs(
    sim: Simulator, out: str, *, model: str = "nano_banana", **params: object
) -> list[str]:
    sim.submit(model, {"prompt": "a fox", **params}, out)
    sim.force_status(out, "completed")
    return sim.output_urls(out)


def name_of(url: str) -> str:
    return url.rpartition("/")[2]


@pytest.fixture
async def cache(tmp_path: Path) -> AsyncIterator[OutputCache]:
    cache = OutputCache(tmp_path / "outputs", max_bytes=50 * MB, max_file_bytes=10 * MB)
    yield cache
    await cache.aclose()


def files_in(cache: OutputCache) -> list[str]:
    return sorted(p.name for p in cache.root.iterdir()) if cache.root.exists() else []


async def test_the_second_fetch_is_a_cache_hit(sim: Simulator, cache: OutputCache) -> None:
    (url,) = completed_outputs(sim, "o-1", aspect_ratio="16:9")
    assert cache.cached(url) is None
    first = await cache.fetch(url)
    assert first.state is LinkState.OK and first.reason == ""
    assert first.info is not None and (first.info.width, first.info.height) == (320, 180)
    assert first.image_path is not None and first.image_path.read_bytes().startswith(b"\x89PNG")
    second = await cache.fetch(url)
    assert second == first and cache.cached(url) == first
    assert sim.outputs.fetches[name_of(url)] == 1


async def test_callers_at_the_same_time_share_one_request(
    sim: Simulator, cache: OutputCache
) -> None:
    (url,) = completed_outputs(sim, "o-1")
    sim.set_output_fault(url, OutputFault.SLOW, delay=0.01)
    results = await asyncio.gather(*(cache.fetch(url) for _ in range(5)))
    assert {r.state for r in results} == {LinkState.OK}
    assert sim.outputs.fetches[name_of(url)] == 1


async def test_a_caller_giving_up_does_not_cancel_the_others(
    sim: Simulator, cache: OutputCache
) -> None:
    (url,) = completed_outputs(sim, "o-1")
    sim.set_output_fault(url, OutputFault.SLOW, delay=0.01)
    impatient = asyncio.ensure_future(cache.fetch(url))
    patient = asyncio.ensure_future(cache.fetch(url))
    await asyncio.sleep(0)
    impatient.cancel()
    assert (await patient).state is LinkState.OK


@pytest.mark.parametrize(
    ("fault", "state"),
    [
        (OutputFault.GONE, LinkState.EXPIRED),
        (OutputFault.EXPIRED, LinkState.EXPIRED),
        (OutputFault.FORBIDDEN, LinkState.EXPIRED),
        (OutputFault.SERVER_ERROR, LinkState.UNREACHABLE),
    ],
)
async def test_dead_links_get_a_state_remembered_for_the_run(
    sim: Simulator, cache: OutputCache, fault: OutputFault, state: LinkState
) -> None:
    (url,) = completed_outputs(sim, "o-1")
    sim.set_output_fault(url, fault)
    got = await cache.fetch(url)
    assert (got.state, got.path, got.info) == (state, None, None)
    assert got.reason.endswith(".") and url not in got.reason
    assert await cache.fetch(url) == got and cache.cached(url) == got
    assert sim.outputs.fetches[name_of(url)] == 1
    assert files_in(cache) == []


async def test_forget_lets_a_failed_link_be_tried_again(sim: Simulator, cache: OutputCache) -> None:
    (url,) = completed_outputs(sim, "o-1")
    sim.set_output_fault(url, OutputFault.SERVER_ERROR, times=1)
    assert (await cache.fetch(url)).state is LinkState.UNREACHABLE
    cache.forget(url)
    assert (await cache.fetch(url)).state is LinkState.OK


def test_link_states_for_statuses() -> None:
    assert [link_state_for_status(s) for s in (200, 206, 403, 404, 410, 429, 500, 503)] == [
        LinkState.OK,
        LinkState.OK,
        LinkState.EXPIRED,
        LinkState.EXPIRED,
        LinkState.EXPIRED,
        LinkState.UNREACHABLE,
        LinkState.UNREACHABLE,
        LinkState.UNREACHABLE,
    ]


async def test_a_host_that_does_not_answer_is_not_reachable(cache: OutputCache) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    got = await cache.fetch(f"http://127.0.0.1:{port}/files/x.png")
    assert got.state is LinkState.UNREACHABLE and "could not be reached" in got.reason


async def test_a_page_that_is_not_an_image_is_refused(sim: Simulator, cache: OutputCache) -> None:
    (url,) = completed_outputs(sim, "o-1")
    sim.set_output_fault(url, OutputFault.NOT_IMAGE)
    got = await cache.fetch(url)
    assert got.state is LinkState.REFUSED and got.image_path is None
    assert "not an image" in got.reason
    assert files_in(cache) == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/x.png",
        "javascript:alert(1)",
        "data:image/png;base64,iVBORw0KGgo=",
        "http://user:pw@127.0.0.1/x.png",
        "/files/x.png",
    ],
)
async def test_only_http_and_https_are_fetched(
    sim: Simulator, cache: OutputCache, url: str
) -> None:
    got = await cache.fetch(url)
    assert got.state is LinkState.REFUSED and got.reason.startswith("Not fetched: ")
    assert sim.outputs.log == []


async def test_a_redirect_to_a_local_file_is_refused(sim: Simulator, cache: OutputCache) -> None:
    (url,) = completed_outputs(sim, "o-1")
    sim.set_output_fault(url, OutputFault.REDIRECT_FILE)
    got = await cache.fetch(url)
    assert got.state is LinkState.REFUSED and "not http or https" in got.reason


async def test_a_body_over_the_cap_is_refused_whatever_the_headers_say(
    sim: Simulator, tmp_path: Path
) -> None:
    cache = OutputCache(tmp_path / "outputs", max_bytes=50 * MB, max_file_bytes=1 * MB)
    try:
        declared, chunked, exact = completed_outputs(sim, "o-1", output_n=3)
        # Announced as 300 MB: refused from the headers, before the body.
        sim.set_output_fault(declared, OutputFault.HUGE_DECLARED)
        # No Content-Length: refused once 1 MB has arrived.
        sim.set_output_fault(chunked, OutputFault.HUGE, size=5 * MB)
        got = await asyncio.gather(cache.fetch(declared), cache.fetch(chunked))
        assert [g.state for g in got] == [LinkState.REFUSED] * 2
        assert all("larger than the 1.0 MB allowed" in g.reason for g in got)
        # Without a length, a file under the cap is fine.
        sim.set_output_fault(exact, OutputFault.NO_LENGTH)
        assert (await cache.fetch(exact)).state is LinkState.OK
        assert [p for p in files_in(cache) if p.endswith(".part")] == []
    finally:
        await cache.aclose()


async def test_output_hosts_get_no_key_and_no_cookie(sim: Simulator, cache: OutputCache) -> None:
    first, second = completed_outputs(sim, "o-1", output_n=2)
    sim.set_output_fault(first, OutputFault.SET_COOKIE)
    assert (await cache.fetch(first)).state is LinkState.OK
    assert (await cache.fetch(second)).state is LinkState.OK
    assert len(sim.outputs.log) == 2
    for request in sim.outputs.log:
        assert "authorization" not in request.headers
        assert "cookie" not in request.headers
        assert request.headers["accept-encoding"] == "identity"


async def test_the_bound_evicts_the_least_recently_used(sim: Simulator, tmp_path: Path) -> None:
    urls = completed_outputs(sim, "o-1", output_n=3, aspect_ratio="1:1")
    sizer = OutputCache(tmp_path / "sizes", max_bytes=50 * MB, max_file_bytes=MB)
    sizes = {}
    for url in urls:
        info = (await sizer.fetch(url)).info
        assert info is not None
        sizes[url] = info.size
    await sizer.aclose()
    # b the smallest, so a and b fit together, and a, b and c do not.
    b, a, c = sorted(urls, key=sizes.__getitem__)
    cache = OutputCache(tmp_path / "outputs", max_bytes=sizes[a] + sizes[c], max_file_bytes=MB)
    try:
        assert (await cache.fetch(a)).state is LinkState.OK
        assert (await cache.fetch(b)).state is LinkState.OK
        assert cache.cached(a) is not None  # a is now more recent than b
        assert (await cache.fetch(c)).state is LinkState.OK
        assert cache.cached(b) is None
        assert cache.cached(a) is not None and cache.cached(c) is not None
        assert cache.total_bytes <= cache.max_bytes
        assert sum(p.stat().st_size for p in cache.root.iterdir()) == cache.total_bytes
    finally:
        await cache.aclose()


async def test_a_file_larger_than_the_whole_cache_is_refused(
    sim: Simulator, tmp_path: Path
) -> None:
    (url,) = completed_outputs(sim, "o-1")
    cache = OutputCache(tmp_path / "outputs", max_bytes=1000, max_file_bytes=MB)
    try:
        got = await cache.fetch(url)
        assert got.state is LinkState.REFUSED and "1 KB allowed" in got.reason
    finally:
        await cache.aclose()


async def test_the_index_survives_a_restart(sim: Simulator, tmp_path: Path) -> None:
    image, video = (
        completed_outputs(sim, "o-1", aspect_ratio="9:16")[0],
        completed_outputs(sim, "o-2", model="veo3_1_fast")[0],
    )
    first = OutputCache(tmp_path / "outputs", max_bytes=50 * MB, max_file_bytes=MB)
    fetched = [await first.fetch(image), await first.fetch(video)]
    await first.aclose()
    (tmp_path / "outputs" / ("0" * 40 + ".part")).write_bytes(b"left by a crash")
    again = OutputCache(tmp_path / "outputs", max_bytes=50 * MB, max_file_bytes=MB)
    try:
        got = [again.cached(image), again.cached(video)]
        assert got == fetched
        assert isinstance(got[1], Fetched) and got[1].info is not None
        assert got[1].info.kind is MediaKind.MP4 and got[1].info.duration == pytest.approx(5.0)
        assert sum(sim.outputs.fetches.values()) == 2
        assert again.total_bytes == sum(p.stat().st_size for p in again.root.iterdir())
        assert not any(p.name.endswith(".part") for p in again.root.iterdir())
    finally:
        await again.aclose()


async def test_a_file_removed_behind_its_back_is_fetched_again(
    sim: Simulator, cache: OutputCache
) -> None:
    (url,) = completed_outputs(sim, "o-1")
    got = await cache.fetch(url)
    assert got.path is not None
    got.path.unlink()
    assert cache.cached(url) is None
    assert (await cache.fetch(url)).state is LinkState.OK
    assert sim.outputs.fetches[name_of(url)] == 2


async def test_a_cached_image_opens_with_pillow_and_its_bomb_guard_is_on(
    sim: Simulator, cache: OutputCache
) -> None:
    (url,) = completed_outputs(sim, "o-1", aspect_ratio="4:3")
    got = await cache.fetch(url)
    assert got.image_path is not None
    with Image.open(got.image_path) as image:
        assert image.size == (320, 240)
    # Pillow's default (its decompression-bomb guard): nothing of ours changes it.
    assert Image.MAX_IMAGE_PIXELS == 1024 * 1024 * 1024 // 4 // 3
