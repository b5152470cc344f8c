"""Creating tasks: from a submit, the demo set, and bulk sets for benchmarks."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, Final

from aireiter_tui.simulator import catalog
from aireiter_tui.simulator.catalog import MODELS
from aireiter_tui.simulator.media import size_for_aspect_ratio
from aireiter_tui.simulator.scenario import SimTask, TaskStore, timeline, token

DEFAULT_STATUS_MIX: Final[Mapping[str, float]] = {
    "pending": 0.2,
    "processing": 0.2,
    "completed": 0.5,
    "failed": 0.1,
}


class TaskFactory:
    """Makes tasks from one seeded ``Random`` and registers their output files."""

    def __init__(self, store: TaskStore, seed: int) -> None:
        self.store = store
        self.rng = random.Random(f"tasks:{seed}")
        self.failure_rate = 0.1
        #: Output file name -> (width, height, seed); width 0 marks a video.
        self.files: dict[str, tuple[int, int, int]] = {}

    def create(
        self,
        model: str,
        params: dict[str, Any],
        *,
        status: str = "pending",
        out_task_id: str | None = None,
        hide_task_id: bool = False,
        metadata: dict[str, Any] | None = None,
        outcome: str | None = None,
        error_index: int | None = None,
        position: float = 0.0,
        age_s: float = 0.0,
        with_input: bool = True,
        task_id: str | None = None,
    ) -> SimTask:
        """Make a task that shows ``status`` now and register it.

        Args:
            outcome: Where a pending or processing task ends; drawn with
                ``failure_rate`` when not given.
            hide_task_id: The task is known only by ``out_task_id``.
        """
        spec = MODELS[model]
        rng = self.rng
        if outcome is None:
            outcome = "failed" if rng.random() < self.failure_rate else "completed"
        if status == "failed":
            outcome = "failed"
        pending_s = rng.uniform(2.0, 8.0)
        processing_s = rng.uniform(*spec.processing_s)
        created, stages = timeline(
            status,
            now=self.store.clock(),
            speed=self.store.speed,
            pending_s=pending_s,
            processing_s=processing_s,
            outcome=outcome,
            position=position,
            age_s=age_s,
        )
        if task_id is None and not hide_task_id:
            task_id = f"order_{token(rng)}"
        outputs = self._plan_outputs(spec, params)
        if error_index is None:
            error_index = rng.randrange(len(catalog.ERRORS))
        task = SimTask(
            task_id=None if hide_task_id else task_id,
            out_task_id=out_task_id,
            created=created,
            stages=stages,
            input=catalog.build_input(params, model) if with_input else None,
            outputs=outputs,
            error=catalog.ERRORS[error_index],
            credits=catalog.estimated_credits(spec, params),
            metadata=metadata,
        )
        return self.store.add(task)

    def _plan_outputs(self, spec: catalog.ModelSpec, params: dict[str, Any]) -> tuple[str, ...]:
        stem = token(self.rng)
        if spec.kind == "video":
            name = f"{stem}-item-0.mp4"
            self.files[name] = (0, 0, self.rng.getrandbits(32))
            return (name,)
        width, height = size_for_aspect_ratio(params.get("aspect_ratio"))
        names = []
        for index in range(catalog.output_count(spec, params)):
            name = f"{stem}-item-{index}.png"
            self.files[name] = (width, height, self.rng.getrandbits(32))
            names.append(name)
        return tuple(names)

    def demo(self) -> list[tuple[str, str]]:
        """About twenty tasks covering every status, several models, both output kinds."""
        rng = self.rng
        made: list[SimTask] = []

        def add(model: str, status: str, **kwargs: Any) -> None:
            params = catalog.random_params(rng, MODELS[model], prompt=kwargs.pop("prompt", None))
            params.update(kwargs.pop("params", {}))
            made.append(self.create(model, params, status=status, **kwargs))

        hour = 3600.0
        reference_images = catalog.input_image_urls(rng, 3)
        add(
            "nano_banana",
            "completed",
            task_id="order_lwU2d-VkUq9-tlCCmrdYu",
            prompt="dog",
            params={"format": "jpeg", "aspect_ratio": "16:9", "image_url": reference_images},
            age_s=26 * hour,
        )
        add("nano_banana_pro", "completed", params={"output_n": 2}, age_s=5 * hour)
        add("gpt_4o", "completed", params={"aspect_ratio": "3:2", "output_n": 1}, age_s=hour)
        add(
            "seedream_v4",
            "completed",
            params={"image_url": catalog.input_image_urls(rng, 1)},
            age_s=0.5 * hour,
        )
        add("veo3_1_fast", "completed", params={"aspect_ratio": "16:9"}, age_s=2 * hour)
        add(
            "sora2_pro",
            "completed",
            out_task_id="shot-042-final",
            hide_task_id=True,
            metadata={"project": "trailer", "shot": 42},
            age_s=3 * hour,
        )
        add("nano_banana", "failed", error_index=catalog.CONTENT_POLICY, age_s=40 * 60)
        add("veo3_1_fast", "failed", error_index=catalog.LONG, age_s=20 * 60)
        add("sora2_pro", "failed", error_index=catalog.TIMEOUT, age_s=4 * hour)
        add("nano_banana_pro", "processing", outcome="completed", position=0.3)
        add("veo3_1_fast", "processing", outcome="completed", position=0.1)
        add("seedream_v4", "processing", outcome="failed", position=0.5, error_index=2)
        add("gpt_4o", "pending", outcome="completed", position=0.2)
        add(
            "sora2_pro",
            "pending",
            outcome="completed",
            out_task_id="batch-7-clip-3",
            hide_task_id=True,
        )
        add("nano_banana", "pending", outcome="completed", position=0.6)
        add("gpt_4o", "queued_for_review", age_s=15 * 60)
        add(
            "nano_banana",
            "completed",
            prompt=catalog.PROMPTS[9],
            metadata={"user": "森田", "tags": ["kyoto", "night"]},
            age_s=2 * 24 * hour,
        )
        add("gpt_4o", "completed", with_input=False, age_s=3 * 24 * hour)
        add(
            "seedream_v4",
            "completed",
            out_task_id="catalog-sku-88123",
            hide_task_id=True,
            metadata={"sku": "88123"},
            age_s=6 * hour,
        )
        add("nano_banana_pro", "pending", outcome="completed", params={"aspect_ratio": "3:4"})
        return [refer(task) for task in made]

    def bulk(self, n: int, status_mix: Mapping[str, float]) -> list[tuple[str, str]]:
        """``n`` tasks whose statuses follow ``status_mix`` (weights, need not sum to 1)."""
        statuses = list(status_mix)
        weights = [status_mix[s] for s in statuses]
        models = list(catalog.BULK_MODELS)
        rng = self.rng
        refs = []
        for status in rng.choices(statuses, weights, k=n):
            spec = MODELS[rng.choice(models)]
            params = catalog.random_params(rng, spec)
            hide = rng.random() < 0.1
            task = self.create(
                spec.name,
                params,
                status=status,
                out_task_id=f"bulk-{token(rng, 12)}" if hide else None,
                hide_task_id=hide,
                position=rng.random(),
                age_s=rng.uniform(0, 86_400),
            )
            refs.append(refer(task))
        return refs


def refer(task: SimTask) -> tuple[str, str]:
    """The ``(kind, id)`` pair a client uses to watch ``task``."""
    if task.task_id is not None:
        return "task_id", task.task_id
    return "out_task_id", str(task.out_task_id)
