"""The simulator's submit endpoint over real sockets: it checks a submit as a real service
would (an error envelope saying why) and can lose the answer of one it accepted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from aireiter_tui.api.client import AIReiterClient
from aireiter_tui.domain.errors import NetworkError, RequestTimeoutError
from aireiter_tui.domain.secret import ApiKey
from aireiter_tui.simulator import Fault, Simulator

KEY = "sim-demo-key"
#: The models the API documents (the issue's list; ``drafts.KNOWN_MODELS`` offers them).
DOCUMENTED_MODELS = (
    "nano_banana",
    "nano_banana_pro",
    "gpt_4o",
    "seedream_v4",
    "veo3_1_fast",
    "sora2",
    "sora2_pro",
    "seedance_1_5_pro",
)
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def submit(
    http: aiohttp.ClientSession, sim: Simulator, model: str, params: Any, out: str = "o-1"
) -> tuple[int, Any]:
    body = {"model": model, "params": params, "out_task_id": out}
    url = f"{sim.base_url}/api/openapi/submit"
    async with http.post(url, json=body, headers=AUTH) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_every_documented_model_is_accepted(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    for number, model in enumerate(DOCUMENTED_MODELS):
        status, body = await submit(http, sim, model, {"prompt": "a fox"}, f"m-{number}")
        assert (status, body["statusCode"]) == (200, 200), (model, body)
        assert body["data"]["estimated_credits"] > 0
    assert sim.task_count == len(DOCUMENTED_MODELS)


@pytest.mark.parametrize(
    ("model", "params", "message"),
    [
        ("dall_e_9", {"prompt": "x"}, "Unsupported model: dall_e_9"),
        ("nano_banana", {}, "params.prompt is required"),
        ("nano_banana", {"prompt": ""}, "params.prompt must not be empty"),
        ("nano_banana", {"prompt": 42}, "params.prompt must be a string"),
        ("gpt_4o", {"prompt": "x", "output_n": "2"}, "params.output_n must be an integer"),
        ("gpt_4o", {"prompt": "x", "output_n": True}, "params.output_n must be an integer"),
        ("sora2", {"prompt": "x", "video_length": 600}, "params.video_length must be"),
        ("nano_banana", {"prompt": "x", "show_public": "yes"}, "params.show_public must be"),
        ("nano_banana", {"prompt": "x", "image_url": [1]}, "params.image_url must be"),
        ("gpt_4o", {"prompt": "x", "aspect_ratio": "7:3"}, "7:3 is not supported by gpt_4o"),
    ],
)
async def test_a_bad_submit_gets_an_error_envelope_with_the_reason(
    sim: Simulator, http: aiohttp.ClientSession, model: str, params: Any, message: str
) -> None:
    status, body = await submit(http, sim, model, params)
    assert status == 400 and body["statusCode"] == 400 and body["data"] is None
    assert message in body["message"]
    assert sim.task_count == 0


async def test_a_lost_answer_leaves_the_task_made_and_the_client_without_an_answer(
    sim: Simulator,
) -> None:
    sim.set_fault(Fault.LOST_ANSWER, times=1)
    async with AIReiterClient(sim.base_url, ApiKey(KEY)) as client:
        with pytest.raises(NetworkError) as lost:
            await client.submit(model="gpt_4o", params={"prompt": "x"}, out_task_id="lost-1")
        assert "without answering" in lost.value.message
        assert sim.task_status("lost-1") == "pending"
        assert sim.submits_by_out_task_id["lost-1"] == 1
        task = await client.query(out_task_id="lost-1")
    assert task.model == "gpt_4o"


async def test_a_lost_answer_after_a_delay_is_a_timeout(sim: Simulator) -> None:
    sim.set_fault(Fault.LOST_ANSWER, times=1, delay=30)
    async with AIReiterClient(sim.base_url, ApiKey(KEY), timeout=0.3) as client:
        with pytest.raises(RequestTimeoutError):
            await client.submit(model="gpt_4o", params={"prompt": "x"}, out_task_id="slow-1")
    assert sim.task_status("slow-1") == "pending"
