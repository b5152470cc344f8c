"""What the simulator's tasks are made of: models, their parameters, prompts and errors.

Everything random is drawn from the ``random.Random`` passed in, so a seed fixes it all.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Final

from aireiter_tui.simulator.scenario import BASE, token


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model's kind, its price and the parameters its tasks carry."""

    name: str
    kind: str  # "image" or "video"
    credits: int  # per image, or per second of video
    aspect_ratios: tuple[str, ...]
    processing_s: tuple[float, float]  # nominal seconds, min and max


MODELS: Final = {
    spec.name: spec
    for spec in (
        ModelSpec("nano_banana", "image", 100, ("16:9", "1:1", "4:3", "9:16"), (8, 20)),
        ModelSpec("nano_banana_pro", "image", 200, ("1:1", "16:9", "21:9", "3:4"), (12, 30)),
        ModelSpec("gpt_4o", "image", 150, ("1:1", "3:2", "2:3"), (10, 35)),
        ModelSpec("seedream_v4", "image", 120, ("4:3", "1:1", "16:9"), (8, 25)),
        ModelSpec("veo3_1_fast", "video", 40, ("16:9", "9:16"), (30, 75)),
        ModelSpec("sora2", "video", 30, ("16:9", "9:16"), (40, 100)),
        ModelSpec("sora2_pro", "video", 60, ("16:9", "9:16"), (45, 120)),
        ModelSpec("seedance_1_5_pro", "video", 35, ("16:9", "9:16", "1:1"), (30, 90)),
    )
}
#: The models bulk sets draw from: the first six, so a seed keeps giving the tasks it gave
#: before sora2 and seedance_1_5_pro were added.
BULK_MODELS: Final = (
    "nano_banana",
    "nano_banana_pro",
    "gpt_4o",
    "seedream_v4",
    "veo3_1_fast",
    "sora2_pro",
)

PROMPTS: Final = (
    "dog",
    "a lighthouse on a basalt cliff at dusk, volumetric fog, 35mm film",
    "isometric cutaway of a tiny ramen shop, warm lights, rainy night",
    "macro photo of a dew-covered spider web at sunrise",
    "a red fox running through fresh snow, slow motion, telephoto",
    "watercolor map of an imaginary archipelago with sea monsters",
    "product shot of a matte black espresso machine on travertine",
    "drone flight over terraced rice fields, golden hour",
    "portrait of an elderly astronaut, Rembrandt lighting",
    "夕暮れの京都の路地、提灯、雨上がりの石畳",
    "a paper boat sailing down a city gutter after a storm",
    "neon-lit cyberpunk market street, crowds, reflections on wet asphalt",
)

LONG_ERROR_MESSAGE: Final = (
    "The video could not be generated because the upstream rendering cluster rejected "
    "the job after three attempts. The first attempt timed out while encoding the second "
    "keyframe, and the two retries failed with an out-of-memory condition on the decoder. "
    "No credits were charged for this task. You can submit the same parameters again; "
    "if the problem persists, shorten the video length or lower the resolution, and "
    "contact support with the task ID so the rendering team can look at the job logs."
)

ERRORS: Final[tuple[dict[str, Any], ...]] = (
    {
        "code": "CONTENT_POLICY",
        "message": "The prompt was rejected by the content safety filter.",
        "detail": {"category": "violence", "policy_version": "2025-11", "stage": "prompt"},
    },
    {
        "code": "GENERATION_TIMEOUT",
        "message": "Generation did not finish within 600 seconds.",
        "detail": {"timeout_seconds": 600, "attempts": 3},
    },
    {
        "code": "INVALID_INPUT_IMAGE",
        "message": "One of the input images could not be downloaded (HTTP 403).",
        "detail": {"param": "image_url", "index": 1},
    },
    {"code": "UPSTREAM_ERROR", "message": LONG_ERROR_MESSAGE, "detail": {"retryable": True}},
)
CONTENT_POLICY: Final = 0
TIMEOUT: Final = 1
LONG: Final = 3


def input_image_urls(rng: random.Random, count: int) -> str:
    """``count`` simulator-hosted upload URLs joined by commas, as the API echoes them."""
    return ",".join(f"{BASE}/files/upload-{token(rng)}.png" for _ in range(count))


def random_params(
    rng: random.Random, spec: ModelSpec, *, prompt: str | None = None
) -> dict[str, Any]:
    """Plausible parameters for ``spec``; the keys differ per model, as in the real API."""
    params: dict[str, Any] = {"prompt": prompt if prompt is not None else rng.choice(PROMPTS)}
    params["aspect_ratio"] = rng.choice(spec.aspect_ratios)
    if spec.name == "nano_banana":
        params["format"] = rng.choice(("png", "jpeg"))
        params["show_public"] = rng.random() < 0.5
    elif spec.name == "nano_banana_pro":
        params["resolution"] = rng.choice(("1K", "2K", "4K"))
        params["output_n"] = rng.choice((1, 1, 2))
        params["web_search"] = rng.random() < 0.3
    elif spec.name == "gpt_4o":
        params["output_n"] = rng.choice((1, 1, 1, 2, 4))
    elif spec.name == "seedream_v4":
        params["resolution"] = rng.choice(("2K", "4K"))
        params["output_n"] = 1
    elif spec.name == "veo3_1_fast":
        params["video_length"] = 8
        params["resolution"] = rng.choice(("720p", "1080p"))
    else:
        params["video_length"] = rng.choice((10, 15))
        params["resolution"] = "1080p"
    return params


def estimated_credits(spec: ModelSpec, params: dict[str, Any]) -> int:
    """Credits the task costs: per output image, or per second of video."""
    if spec.kind == "video":
        length = params.get("video_length")
        seconds = length if isinstance(length, int) and 0 < length <= 60 else 8
        return spec.credits * seconds
    count = params.get("output_n")
    images = count if isinstance(count, int) and 0 < count <= 8 else 1
    return spec.credits * images


def output_count(spec: ModelSpec, params: dict[str, Any]) -> int:
    if spec.kind == "video":
        return 1
    count = params.get("output_n")
    return count if isinstance(count, int) and 0 < count <= 8 else 1


def build_input(params: dict[str, Any], model: str, show_public: int = 0) -> dict[str, Any]:
    """The ``input`` object: params echoed, plus ``attachments`` as in the reference page.

    A list-valued ``image_url`` is echoed as one comma-joined string, and
    ``attachments`` is a list holding ONE comma-joined string of every input image.
    """
    echoed = dict(params)
    images: list[str] = []
    for key in ("image_url", "end_image_url"):
        value = echoed.get(key)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            echoed[key] = ",".join(value)
            value = echoed[key]
        if isinstance(value, str) and value:
            images.append(value)
    return {
        "model": model,
        "params": echoed,
        "showPublic": show_public,
        "attachments": [",".join(images)] if images else [],
    }


#: The longest out_task_id the service takes.
MAX_OUT_TASK_ID: Final = 256
#: Params whose type the service checks, with the check and what it expects (any other
#: key passes through, as the per-model params of the real service do).
_PARAM_TYPES: Final[dict[str, tuple[Any, str]]] = {
    "aspect_ratio": (lambda v: isinstance(v, str), "a string"),
    "resolution": (lambda v: isinstance(v, str), "a string"),
    "format": (lambda v: isinstance(v, str), "a string"),
    "output_n": (lambda v: _whole(v) and 1 <= v <= 8, "an integer from 1 to 8"),
    "video_length": (lambda v: _whole(v) and 1 <= v <= 60, "an integer from 1 to 60"),
    "show_public": (lambda v: isinstance(v, bool), "true or false"),
    "web_search": (lambda v: isinstance(v, bool), "true or false"),
    "image_url": (lambda v: _urls(v), "a URL string or a list of URL strings"),
    "end_image_url": (lambda v: _urls(v), "a URL string or a list of URL strings"),
}


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _urls(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(item, str) for item in value)
    )


def submit_problem(body: Any) -> str | None:
    """Why a submit body is unacceptable as a request, or ``None``: its shape, the model,
    the IDs (the params' contents are :func:`params_problem`'s). Each is said in the
    error envelope's message."""
    if not isinstance(body, dict):
        return "The request body must be a JSON object"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model is required"
    if body["model"] not in MODELS:
        return f"Unsupported model: {body['model']}"
    if not isinstance(body.get("params"), dict):
        return "params must be an object"
    if not isinstance(body.get("out_task_id"), str) or not body["out_task_id"]:
        return "out_task_id is required"
    if len(body["out_task_id"]) > MAX_OUT_TASK_ID:
        return f"out_task_id must be at most {MAX_OUT_TASK_ID} characters"
    if "metadata" in body and not isinstance(body["metadata"], dict | None):
        return "metadata must be an object"
    if "callback_url" in body and not isinstance(body["callback_url"], str | None):
        return "callback_url must be a string"
    return None


def params_problem(spec: ModelSpec, params: dict[str, Any]) -> str | None:
    """Why ``params`` are unacceptable for ``spec``'s model, or ``None``: a non-empty
    string prompt, the types of the params the service knows, an aspect ratio the model
    has."""
    prompt = params.get("prompt")
    if prompt is None:
        return "params.prompt is required"
    if not isinstance(prompt, str):
        return "params.prompt must be a string"
    if not prompt.strip():
        return "params.prompt must not be empty"
    for key, (valid, expected) in _PARAM_TYPES.items():
        if key in params and not valid(params[key]):
            return f"params.{key} must be {expected}"
    ratio = params.get("aspect_ratio")
    if ratio is not None and ratio not in spec.aspect_ratios:
        return (
            f"params.aspect_ratio {ratio} is not supported by {spec.name}"
            f" (supported: {', '.join(spec.aspect_ratios)})"
        )
    return None
