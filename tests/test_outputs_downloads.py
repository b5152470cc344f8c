"""Downloads against the simulator over real sockets: whole files under safe names,
resumed with Range, dead links and hostile answers reported per file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aireiter_tui.domain.download_names import (
    DownloadItem,
    already_downloaded,
    default_download_dir,
    part_path,
    plan,
    target_name,
)
from aireiter_tui.domain.downloads import Downloader, Progress
from aireiter_tui.domain.media_info import MediaKind, inspect
from aireiter_tui.domain.output_fetch import output_client
from aireiter_tui.simulator import Simulator
from aireiter_tui.simulator.media import make_mp4
from aireiter_tui.simulator.output_files import OutputFault

MB = 1_000_000


def completed(sim: Simulator, out: str, **params: object) -> tuple[str, list[str]]:
    sim.submit("nano_banana", {"prompt": "a fox", **params}, out)
    sim.force_status(out, "completed")
    return out, sim.output_urls(out)


async def whole_file(sim: Simulator, url: str) -> bytes:
    async with output_client() as client:
        response = await client.get(url)
    sim.outputs.reset_log()
    return response.content


@pytest.fixture
async def downloader() -> AsyncIterator[Downloader]:
    async with output_client() as client:
        yield Downloader(client, max_file_bytes=10 * MB)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, int, int | None]] = []

    def __call__(self, progress: Progress) -> None:
        p = progress
        self.events.append((p.item.task_id, p.state, p.received, p.total))

    def states(self, task_id: str) -> list[str]:
        seen: list[str] = []
        for ident, state, _, _ in self.events:
            if ident == task_id and (not seen or seen[-1] != state):
                seen.append(state)
        return seen


async def test_three_tasks_give_three_whole_pngs_of_their_sizes(
    sim: Simulator, downloader: Downloader, tmp_path: Path
) -> None:
    tasks = [
        completed(sim, "wide", aspect_ratio="16:9"),
        completed(sim, "square", aspect_ratio="1:1"),
        completed(sim, "tall", aspect_ratio="9:16"),
    ]
    record = Recorder()
    results = await downloader.run(plan(tasks, tmp_path / "dl"), record)
    assert [r.state for r in results] == ["done"] * 3
    sizes = {}
    for result in results:
        info = inspect(result.item.target)
        assert info.kind is MediaKind.PNG
        assert result.received == result.total == info.size
        sizes[result.item.target.name] = (info.width, info.height)
    assert sizes == {"wide.png": (320, 180), "square.png": (320, 320), "tall.png": (180, 320)}
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == sorted(sizes)
    assert record.states("wide") == ["queued", "running", "done"]
    received = [r for ident, _, r, _ in record.events if ident == "wide"]
    assert received == sorted(received)


async def test_several_outputs_are_numbered_from_one(
    sim: Simulator, downloader: Downloader, tmp_path: Path
) -> None:
    results = await downloader.run(plan([completed(sim, "t", output_n=3)], tmp_path), Recorder())
    assert [r.item.target.name for r in results] == ["t_1.png", "t_2.png", "t_3.png"]
    assert [r.item.index for r in results] == [0, 1, 2]


async def test_a_cut_stream_resumes_with_range(
    sim: Simulator, downloader: Downloader, tmp_path: Path
) -> None:
    _, (url,) = task = completed(sim, "t", aspect_ratio="4:3")
    expected = await whole_file(sim, url)
    sim.set_output_fault(url, OutputFault.CUT, times=1)
    (result,) = await downloader.run(plan([task], tmp_path), Recorder())
    assert result.state == "done"
    assert result.item.target.read_bytes() == expected
    first, second = sim.outputs.log
    assert first.range is None
    assert second.range == f"bytes={len(expected) // 2}-" and second.status == 206
    assert not part_path(tmp_path / "t.png").exists()


async def test_an_interrupted_download_resumes_on_the_next_run(
    sim: Simulator, downloader: Downloader, tmp_path: Path
) -> None:
    _, (url,) = task = completed(sim, "t")
    expected = await whole_file(sim, url)
    sim.set_output_fault(url, OutputFault.SERVER_ERROR, times=1)
    half = len(expected) // 3
    part_path(tmp_path / "t.png").write_bytes(expected[:half])  # what a killed run left
    (failed,) = await downloader.run(plan([task], tmp_path), Recorder())
    assert failed.state == "failed" and failed.reason.startswith("not reachable: ")
    part_path(tmp_path / "t.png").write_bytes(expected[:half])
    (result,) = await downloader.run(plan([task], tmp_path), Recorder())
    assert result.state == "done" and result.item.target.read_bytes() == expected
    assert sim.outputs.log[-1].range == f"bytes={half}-"


async def test_a_server_that_ignores_range_starts_over(
    sim: Simulator, downloader: Downloader, tmp_path: Path
) -> None:
    _, (url,) = task = completed(sim, "t")
    expected = await whole_file(sim, url)
    part_path(tmp_path / "t.png").write_bytes(b"\x89PNG" + b"stale bytes" * 10)
    sim.set_output_fault(url, OutputFault.IGNORE_RANGE)
    (result,) = await downloader.run(plan([task], tmp_path), Recorder())
    assert result.state == "done" and result.item.target.read_bytes() == expected
    assert sim.outputs.log[0].range is not None and sim.outputs.log[0].status == 200


async def test_a_whole_part_left_behind_is_finished_without_the_body(
    sim: Simulator, downloader: Downloader, tmp_path: Path
) -> None:
    _, (url,) = task = completed(sim, "t")
    expected = await whole_file(sim, url)
    part_path(tmp_path / "t.png").write_bytes(expected)
    (result,) = await downloader.run(plan([task], tmp_path), Recorder())
    assert result.state == "done" and result.item.target.read_bytes() == expected
    assert [r.status for r in sim.outputs.log] == [416]


async def test_files_already_there_are_not_fetched_again(
    sim: Simulator, downloader: Downloader, tmp_path: Path
) -> None:
    task = completed(sim, "t", output_n=2)
    items = plan([task], tmp_path)
    await downloader.run(items, Recorder())
    assert all(already_downloaded(item) for item in items)
    sim.outputs.reset_log()
    again = await downloader.run(items, Recorder())
    assert [r.state for r in again] == ["skipped", "skipped"]
    assert sim.outputs.log == []


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (OutputFault.GONE, "link expired: "),
        (OutputFault.EXPIRED, "link expired: "),
        (OutputFault.FORBIDDEN, "link expired: "),
        (OutputFault.NOT_IMAGE, "refused: The output is not an image or a video"),
        (OutputFault.HUGE, "refused: The file is larger than the 10.0 MB allowed"),
        (OutputFault.HUGE_DECLARED, "refused: The file is larger than the 10.0 MB allowed"),
        (OutputFault.REDIRECT_FILE, "refused: "),
    ],
)
async def test_dead_and_hostile_answers_fail_that_file_only(
    sim: Simulator,
    downloader: Downloader,
    tmp_path: Path,
    fault: OutputFault,
    reason: str,
) -> None:
    bad = completed(sim, "bad")
    good = completed(sim, "good")
    sim.set_output_fault(bad[1][0], fault, size=50 * MB)
    results = await downloader.run(plan([bad, good], tmp_path), Recorder())
    assert [r.state for r in results] == ["failed", "done"]
    assert results[0].reason.startswith(reason)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.png"]


async def test_names_never_come_from_the_server(
    sim: Simulator, downloader: Downloader, tmp_path: Path
) -> None:
    _, (url,) = completed(sim, "t")
    body = await whole_file(sim, url)
    traversal = sim.serve_file("../../etc/passwd", body)
    assert traversal.endswith("/files/..%2F..%2Fetc%2Fpasswd")
    sim.set_output_fault(traversal, OutputFault.DISPOSITION)
    folder = tmp_path / "dl"
    items = plan([("../../evil\x1b]0;x\x07", [traversal]), ("ok", [f"{url}?a=/../x"])], folder)
    results = await downloader.run(items, Recorder())
    assert [r.state for r in results] == ["done", "done"]
    evil = target_name("../../evil\x1b]0;x\x07", 0, 1, "png")
    assert evil.startswith("evil_0_x-") and evil.endswith(".png")
    assert sorted(p.name for p in folder.iterdir()) == sorted([evil, "ok.png"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dl"]
    assert sim.outputs.log[0].name == "../../etc/passwd"
    assert sim.outputs.log[0].status == 200


async def test_the_extension_is_what_the_bytes_are(
    sim: Simulator, downloader: Downloader, tmp_path: Path
) -> None:
    url = sim.serve_file("clip.png", make_mp4(4), "image/png")
    (result,) = await downloader.run(plan([("t", [url])], tmp_path), Recorder())
    assert result.item.target.name == "t.mp4"
    assert already_downloaded(plan([("t", [url])], tmp_path)[0])


async def test_no_key_reaches_the_output_host(
    sim: Simulator, downloader: Downloader, tmp_path: Path
) -> None:
    await downloader.run(plan([completed(sim, "t", output_n=2)], tmp_path), Recorder())
    assert len(sim.outputs.log) == 2
    assert all("authorization" not in r.headers for r in sim.outputs.log)


@pytest.mark.parametrize(
    ("ident", "index", "count", "ext", "name"),
    [
        ("order_lwU2d-VkUq9", 0, 1, "png", "order_lwU2d-VkUq9.png"),
        ("order_lwU2d-VkUq9", 1, 3, MediaKind.JPEG.value, "order_lwU2d-VkUq9_2.jpg"),
        ("../../etc/passwd", 0, 1, "png", "etc_passwd-3754d6cb.png"),
        ("..", 0, 1, ".png", "5ec1f7e7.png"),
        ("a b\tc\nd", 0, 1, "webp", "a_b_c_d-1205bffe.webp"),
        ("order__t5PcTdwBhltPqpgJUYnL", 0, 1, "png", "order__t5PcTdwBhltPqpgJUYnL.png"),
        ("_a", 0, 1, "png", "_a.png"),
        ("v1.2", 0, 1, "png", "v1.2.png"),
        ("x", 0, 1, "sh", "x.bin"),
        ("x", 0, 1, "../png", "x.bin"),
        ("Überpreis", 0, 1, "gif", "berpreis-00061d3d.gif"),
    ],
)
def test_target_names(ident: str, index: int, count: int, ext: str, name: str) -> None:
    assert target_name(ident, index, count, ext) == name


@given(st.text(min_size=1, max_size=400), st.integers(0, 99), st.sampled_from(["png", "../x", ""]))
def test_any_id_gives_a_plain_bounded_name(ident: str, index: int, ext: str) -> None:
    name = target_name(ident, index, 100, ext)
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert name.isascii() and name.isprintable() and len(name) <= 140


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("x" * 300 + "a", "x" * 300 + "b"),
        ("Über", "Öber"),
        ("a/b", "a_b"),
        ("a", ".a"),
        ("a__b", "a_b"),
        ("a..b", "a_b"),
    ],
)
def test_ids_that_differ_keep_distinct_names(a: str, b: str) -> None:
    assert target_name(a, 0, 1, "png") != target_name(b, 0, 1, "png")


def test_plan_lists_each_task_once(tmp_path: Path) -> None:
    items = plan([("t", ["https://h/a.png"]), ("t", ["https://h/a.png"]), ("u", [])], tmp_path)
    assert items == [DownloadItem("t", 0, "https://h/a.png", tmp_path / "t.png")]


def test_default_download_dir(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert default_download_dir({"HOME": str(home)}) == home / "Downloads" / "aireiter"
    env = {"HOME": str(home), "XDG_DOWNLOAD_DIR": "/data/dl"}
    assert default_download_dir(env) == Path("/data/dl/aireiter")
    assert default_download_dir({**env, "XDG_DOWNLOAD_DIR": "relative"}) == (
        home / "Downloads" / "aireiter"
    )
    config = tmp_path / "conf"
    config.mkdir()
    (config / "user-dirs.dirs").write_text(
        '# written by xdg-user-dirs-update\nXDG_DOWNLOAD_DIR="$HOME/Telechargements"\n'
    )
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(config)}
    assert default_download_dir(env) == home / "Telechargements" / "aireiter"
