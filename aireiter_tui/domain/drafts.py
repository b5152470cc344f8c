"""A task to submit, before it is sent: the draft, the checks it must pass, params read
from text, templates from the config, and the draft that retries a failed task.

Everything here is pure (no I/O, no clock unless given one) and every problem is a
sentence a person reads, so a dialog and the command line can show it as it is. Sending
a draft exactly once is :mod:`aireiter_tui.domain.submitting`'s part.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import secrets
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Final

from aireiter_tui.domain.errors import ConfigError
from aireiter_tui.domain.fields import JSON, type_name
from aireiter_tui.domain.models import MAX_ID_LENGTH, Task, TaskRef, TaskStatus, validate_task_id
from aireiter_tui.domain.sanitize import one_line
from aireiter_tui.domain.watchlist_codec import WatchEntry

#: The models the AIReiter API documents, in the order a model list shows them. Any other
#: typed name is sent as typed: the service knows best which models it has today.
KNOWN_MODELS: Final = (
    "nano_banana",
    "nano_banana_pro",
    "gpt_4o",
    "seedream_v4",
    "veo3_1_fast",
    "sora2",
    "sora2_pro",
    "seedance_1_5_pro",
)
#: Longer model names are refused: real ones are a few dozen characters.
MAX_MODEL_LENGTH: Final = 100
#: The suffix a retry's out_task_id gets: ``my_task-r1``, ``my_task-r2``, ...
_RETRY_SUFFIX: Final = re.compile(r"-r(\d{1,6})$")
#: The params a draft is checked for; a template may leave them out.
PROMPT: Final = "prompt"


@dataclass(frozen=True)
class Draft:
    """A submit request as the user prepared it, and what to do with the task it makes.

    ``label`` and ``retry_of`` are not sent: the watch entry of the new task gets them.
    """

    model: str
    params: dict[str, JSON]
    out_task_id: str
    callback_url: str | None = None
    metadata: dict[str, JSON] | None = None
    label: str | None = None
    retry_of: TaskRef | None = None

    def problems(self) -> list[str]:
        """Why this draft must not be sent (empty: it may be); see :func:`check_draft`."""
        return check_draft(self)

    @property
    def fingerprint(self) -> str:
        """A digest of what is sent besides the out_task_id: two drafts with the same one
        ask for the same generation."""
        return fingerprint(self.model, self.params, self.callback_url, self.metadata)


def fingerprint(
    model: str,
    params: Mapping[str, JSON],
    callback_url: str | None = None,
    metadata: Mapping[str, JSON] | None = None,
) -> str:
    """See :attr:`Draft.fingerprint`."""
    try:
        text = json.dumps(
            [model, params, callback_url, metadata], sort_keys=True, ensure_ascii=False
        )
    except (TypeError, ValueError):
        text = repr((model, params, callback_url, metadata))
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=12).hexdigest()


def model_problem(model: object) -> str | None:
    """Why ``model`` cannot be sent as a model name, or ``None`` (known or not)."""
    if not isinstance(model, str) or not model.strip():
        return "Choose a model, or type a model name."
    if len(model) > MAX_MODEL_LENGTH:
        return f"The model name is longer than {MAX_MODEL_LENGTH} characters."
    if any(ch.isspace() or not ch.isprintable() for ch in model):
        return f"The model name {one_line(model)!r} must be one word, without spaces."
    return None


def params_problems(params: object) -> list[str]:
    """Why ``params`` cannot be sent: it must be a JSON object holding a non-empty
    string ``prompt``, and nothing JSON cannot say."""
    if not isinstance(params, dict):
        return [f"The params must be a JSON object ({{...}}), not {type_name(params)}."]
    problems = []
    prompt = params.get(PROMPT)
    if PROMPT not in params:
        problems.append('The params need a "prompt": the text to generate from.')
    elif not isinstance(prompt, str):
        problems.append(f'The "prompt" must be a string, not {type_name(prompt)}.')
    elif not prompt.strip():
        problems.append('The "prompt" is empty.')
    problem = _json_problem(params)
    if problem:
        problems.append(f"The params {problem}.")
    return problems


def _json_problem(value: object) -> str | None:
    """Why ``value`` is not a strict JSON value, or ``None``."""
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return "hold a number JSON cannot carry (NaN or infinity)"
    except TypeError as error:
        return f"hold a value that is not JSON ({error})"
    except RecursionError:
        return "are nested too deeply"
    return None


def check_draft(draft: Draft) -> list[str]:
    """Every reason ``draft`` must not be sent, each a sentence; empty when it may be."""
    problems = []
    problem = model_problem(draft.model)
    if problem:
        problems.append(problem)
    problems += params_problems(draft.params)
    problem = validate_task_id(draft.out_task_id)
    if problem:
        problems.append(f"The out_task_id cannot be used: {problem}.")
    metadata = draft.metadata
    if metadata is not None and not isinstance(metadata, dict):
        problems.append(f"The metadata must be a JSON object ({{...}}), not {type_name(metadata)}.")
    elif metadata is not None and _json_problem(metadata):
        problems.append(f"The metadata {_json_problem(metadata)}.")
    if draft.callback_url is not None and not _web_url(draft.callback_url):
        problems.append("The callback URL must be an http:// or https:// URL.")
    return problems


def _web_url(text: str) -> bool:
    if not isinstance(text, str) or any(ch.isspace() for ch in text):
        return False
    scheme, sep, rest = text.partition("://")
    return bool(sep) and scheme.lower() in ("http", "https") and bool(rest.split("/")[0])


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def parse_json_object(text: str, what: str = "params") -> tuple[dict[str, JSON] | None, str]:
    """Read ``text`` (a dialog's editor, a file, an option) as a JSON object.

    Returns:
        The object and ``""``, or ``None`` and why not, as a sentence naming ``what``.
    """
    if not text.strip():
        return None, f'The {what} are empty: write a JSON object such as {{"prompt": "a fox"}}.'
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as error:
        return None, (
            f"The {what} are not valid JSON: {error.msg} at line {error.lineno},"
            f" column {error.colno}."
        )
    except ValueError as error:  # NaN or Infinity, which strict JSON has not
        return None, f"The {what} are not valid JSON: {error}."
    except RecursionError:
        return None, f"The {what} are nested too deeply."
    if not isinstance(value, dict):
        return None, f"The {what} must be a JSON object ({{...}}), not {type_name(value)}."
    return value, ""


def parse_param_option(text: str) -> tuple[str, JSON]:
    """Read a ``key=value`` option: the value as JSON when it is JSON (``42``, ``true``,
    ``[1, 2]``, ``"quoted"``), else as the text it is.

    Raises:
        ValueError: no ``=``, or nothing before it (the message is a sentence).
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"{one_line(text)!r} is not key=value (for example prompt=a red fox).")
    try:
        value: JSON = json.loads(raw, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        value = raw
    return key.strip(), value


def new_out_task_id(now: datetime | None = None, *, token: str | None = None) -> str:
    """A fresh out_task_id: when it was made, and six random hex digits
    (``tui-20251218-101211-a1b2c3``)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"tui-{moment:%Y%m%d-%H%M%S}-{token or secrets.token_hex(3)}"


def next_retry_id(base: str, taken: Collection[str]) -> str:
    """The out_task_id of a retry of ``base``: ``base-r1``, or the first of ``-r2``,
    ``-r3``, ... not in ``taken`` (a retry of ``x-r1`` is ``x-r2``: suffixes do not pile
    up). Cut so it stays a usable ID."""
    match = _RETRY_SUFFIX.search(base)
    stem = base[: match.start()] if match else base
    number = int(match.group(1)) + 1 if match else 1
    while True:
        suffix = f"-r{number}"
        candidate = stem[: MAX_ID_LENGTH - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        number += 1


def ids_in_use(entries: Iterable[WatchEntry]) -> set[str]:
    """Every ID a new out_task_id must not collide with: each watched task's ID and both
    IDs its last answer gave."""
    taken = set()
    for entry in entries:
        taken.add(entry.ref.id)
        if entry.task is not None:
            taken.update(ident for ident in (entry.task.task_id, entry.task.out_task_id) if ident)
    return taken


class NotRetryable(ValueError):
    """A task that cannot be retried; ``str()`` says why, as a sentence."""


def retry_draft(
    ref: TaskRef,
    task: Task | None,
    taken: Collection[str],
    *,
    label: str | None = None,
) -> Draft:
    """The draft that retries the failed ``task`` (watched as ``ref``): the same model,
    params and metadata as the server returned them, a new out_task_id (see
    :func:`next_retry_id`; ``taken``: every ID already in use), the same ``label``, and
    the link back.

    Raises:
        NotRetryable: not fetched yet, not failed, or its model and params are not known.
    """
    name = one_line(ref.id)
    if task is None:
        raise NotRetryable(f"{name} has not been fetched yet: its model and params are unknown.")
    if task.status is not TaskStatus.FAILED:
        raise NotRetryable(
            f"{name} is {one_line(task.status_label, 40)}, not failed:"
            " only a failed task is retried."
        )
    given = task.input
    if given is None or not given.model or model_problem(given.model):
        raise NotRetryable(
            f"The server did not return the model of {name}, so it cannot be sent again."
        )
    base = task.out_task_id or task.task_id or ref.id
    metadata = task.metadata if isinstance(task.metadata, dict) else None
    return Draft(
        model=given.model,
        # Copies: the draft may be edited (duplicate with edits) while the snapshot stays.
        params=copy.deepcopy(given.params),
        out_task_id=next_retry_id(base, taken),
        metadata=copy.deepcopy(metadata),
        label=label,
        retry_of=ref,
    )


# --- templates ------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """A ``[templates.NAME]`` table of the config: a model and the params to start from."""

    name: str
    model: str
    params: dict[str, JSON] = field(default_factory=dict, hash=False)

    def draft(self, out_task_id: str, *, label: str | None = None) -> Draft:
        """A draft to edit or send, with its own copy of the params."""
        return Draft(self.model, copy.deepcopy(self.params), out_task_id, label=label)


_TEMPLATE_KEYS: Final = ("model", "params")


def parse_templates(value: object, origin: str) -> dict[str, Template]:
    """The ``templates`` table of a config file (``origin`` names it in messages).

    Raises:
        ConfigError: a template is not a table, has an unknown key, no usable model, or
            params that are not a table of JSON values (a TOML date, say).
    """
    if not isinstance(value, dict):
        raise ConfigError(f'{origin}: "templates" must be a set of [templates.NAME] tables')
    templates = {}
    for name, table in value.items():
        where = f"templates.{name}"
        if not isinstance(table, dict):
            raise ConfigError(
                f'{origin}: "{where}" must be a table with a model and params, like'
                f' [templates.{name}] model = "nano_banana"'
            )
        for key in table:
            if key not in _TEMPLATE_KEYS:
                raise ConfigError(
                    f'{origin}: unknown key "{where}.{one_line(key, 40)}" (known keys:'
                    f" {', '.join(_TEMPLATE_KEYS)})"
                )
        model = table.get("model")
        problem = model_problem(model)
        if problem or not isinstance(model, str):
            raise ConfigError(f'{origin}: "{where}.model" is needed: {problem}')
        params = table.get("params", {})
        if not isinstance(params, dict):
            raise ConfigError(
                f'{origin}: "{where}.params" must be a table, got {type(params).__name__}'
            )
        problem = _toml_json_problem(params, f"{where}.params")
        if problem:
            raise ConfigError(f"{origin}: {problem}")
        templates[name] = Template(name, model.strip(), params)
    return templates


def _toml_json_problem(value: object, where: str) -> str | None:
    """Why a TOML value cannot be sent as JSON (dates and times; inf and nan)."""
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _toml_json_problem(item, f"{where}.{key}")
            if problem:
                return problem
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            problem = _toml_json_problem(item, f"{where}[{index}]")
            if problem:
                return problem
        return None
    if isinstance(value, datetime | date | time):
        return f'"{where}" is a TOML date or time, which JSON has not: write it as a string'
    if isinstance(value, float) and not math.isfinite(value):
        return f'"{where}" is {value}, which JSON has not'
    return None
