"""Misbehaviour on demand: which fault the next response gets, and hostile strings.

A :class:`FaultPlan` holds rules. A rule names a :class:`Fault` and says how often it
fires (every time, ``times`` times, or with a ``probability``), either for every API
request (global) or only for queries and submits naming one ID (per task). Per-task
rules win over global ones; among rules of one scope the oldest that fires wins.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Fault(StrEnum):
    """Every way the simulator can misbehave. The values are the ``--fault`` names."""

    HTTP_500 = "http500"
    """HTTP 500 with an HTML body."""
    HTTP_502 = "http502"
    """HTTP 502 with a proxy's HTML body."""
    HTTP_503 = "http503"
    """HTTP 503 with an HTML body."""
    RATE_LIMIT = "rate_limit"
    """HTTP 429 with ``Retry-After`` (seconds; ``retry_after`` or 1)."""
    RATE_LIMIT_BARE = "rate_limit_bare"
    """HTTP 429 without ``Retry-After``."""
    NOT_JSON = "not_json"
    """HTTP 200 whose body is an HTML maintenance page."""
    TRUNCATED = "truncated"
    """Headers promise more bytes than are sent; the connection closes mid-body."""
    DROP = "drop"
    """The connection closes before any response byte."""
    HANG = "hang"
    """The response comes after ``delay`` seconds (default 30): longer than any timeout."""
    ENVELOPE_ERROR = "envelope_error"
    """HTTP 200, but the envelope says ``statusCode`` 500."""
    AUTH_ENVELOPE = "auth_envelope"
    """HTTP 200, but the envelope says ``statusCode`` 401 (a gateway that hides HTTP codes)."""
    UNKNOWN_STATUS = "unknown_status"
    """The task's status is ``queued_for_review``, a value the docs do not list."""
    DATA_NULL = "data_null"
    """A 200 envelope with ``data: null``."""
    OUTPUT_NOT_LIST = "output_not_list"
    """A completed task whose ``output`` is a string, not a list."""
    OUTPUT_NO_URL = "output_no_url"
    """A completed task whose output entries have no ``url``."""
    HUGE_BODY = "huge_body"
    """A valid envelope padded to 5 MB."""
    HOSTILE = "hostile"
    """A task whose every string is hostile: markup, escapes, bidi, dangerous URLs."""
    GZIP_BOMB = "gzip_bomb"
    """``Content-Encoding: gzip, gzip``: 5 KB sent, 2 MB after one layer, 2 GB after two."""
    DEFLATE_BOMB = "deflate_bomb"
    """The same bomb as ``deflate, deflate`` (zlib streams)."""
    UNKNOWN_ENCODING = "unknown_encoding"
    """The envelope labelled ``Content-Encoding: br``, which the client never asked for."""
    ANOTHER_TASK = "another_task"
    """The answer is about another task: its ``task_id`` and ``out_task_id`` differ."""
    ECHO_KEY = "echo_key"
    """The Authorization header copied into the prompt, error, metadata and an output URL."""
    DEEP_NESTING = "deep_nesting"
    """The task with 600 nested lists in its metadata (valid JSON, about 2 KB)."""
    SET_COOKIE = "set_cookie"
    """The normal answer, setting a cookie (a Bearer-token API needs none back)."""
    LOST_ANSWER = "lost_answer"
    """The request is carried out (a submit creates its task), then the connection closes
    without a response byte; with ``delay``, only after that many seconds (a client times
    out first). What a client's duplicate guard must survive."""


#: Faults that describe a task's content: they need a known task to apply to.
CONTENT_FAULTS: Final = frozenset(
    {
        Fault.UNKNOWN_STATUS,
        Fault.OUTPUT_NOT_LIST,
        Fault.OUTPUT_NO_URL,
        Fault.HOSTILE,
        Fault.ANOTHER_TASK,
        Fault.ECHO_KEY,
        Fault.DEEP_NESTING,
    }
)
DEFAULT_HANG_SECONDS: Final = 30.0


@dataclass(slots=True)
class FaultRule:
    """One fault and when it fires. ``times_left``/``probability`` of ``None`` mean always."""

    fault: Fault
    times_left: int | None = None
    probability: float | None = None
    retry_after: float | None = None
    delay: float | None = None


@dataclass(frozen=True, slots=True)
class FiredFault:
    """A fault chosen for one response, with its parameters."""

    fault: Fault
    retry_after: float | None = None
    delay: float | None = None


class FaultPlan:
    """The fault rules, global and per task. Draws use their own seeded ``Random``."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(f"faults:{seed}")
        self._global: list[FaultRule] = []
        self._per_task: dict[str, list[FaultRule]] = {}

    def set_fault(
        self,
        fault: Fault | str,
        *,
        task_id: str | None = None,
        times: int | None = None,
        retry_after: float | None = None,
        probability: float | None = None,
        delay: float | None = None,
    ) -> None:
        """Add (or replace) a rule.

        Args:
            fault: The fault, or its ``--fault`` name.
            task_id: Only for requests naming this ID (``task_id`` or ``out_task_id``).
            times: Fire this many times, then forget the rule; ``None`` for no limit.
            retry_after: Seconds for the ``Retry-After`` header of :attr:`Fault.RATE_LIMIT`.
            probability: Fire on this share of requests (0..1); ``None`` for every one.
            delay: Seconds before the :attr:`Fault.HANG` response.
        """
        fault = Fault(fault)
        if times is not None and times < 1:
            raise ValueError("times must be at least 1")
        if probability is not None and not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        rules = self._global if task_id is None else self._per_task.setdefault(task_id, [])
        rules[:] = [rule for rule in rules if rule.fault is not fault]
        rules.append(FaultRule(fault, times, probability, retry_after, delay))

    def clear_faults(self, task_id: str | None = None) -> None:
        """Forget every rule, or only those of one task."""
        if task_id is None:
            self._global.clear()
            self._per_task.clear()
        else:
            self._per_task.pop(task_id, None)

    @property
    def active(self) -> bool:
        """Whether any rule exists (lets the request path skip the lookup entirely)."""
        return bool(self._global or self._per_task)

    def pick(self, task_id: str | None, *, task_known: bool = True) -> FiredFault | None:
        """Choose the fault for one request naming ``task_id`` (``None`` for no ID).

        Content faults are skipped for unknown tasks: there is no task to distort.
        """
        scopes = []
        if task_id is not None and task_id in self._per_task:
            scopes.append(self._per_task[task_id])
        scopes.append(self._global)
        for rules in scopes:
            for rule in rules:
                if rule.fault in CONTENT_FAULTS and not task_known:
                    continue
                if rule.probability is not None and self._rng.random() >= rule.probability:
                    continue
                if rule.times_left is not None:
                    rule.times_left -= 1
                    if rule.times_left <= 0:
                        rules.remove(rule)
                return FiredFault(rule.fault, rule.retry_after, rule.delay)
        return None


def parse_fault_spec(spec: str) -> tuple[Fault, float | None, str | None]:
    """Read a ``--fault`` value: ``NAME[:PROBABILITY][@TASK_ID]``.

    Raises:
        ValueError: unknown name or a probability outside 0..1 (message names the choices).
    """
    head, _, task_id = spec.partition("@")
    name, _, prob_text = head.partition(":")
    try:
        fault = Fault(name.strip().lower())
    except ValueError:
        choices = ", ".join(f.value for f in Fault)
        raise ValueError(f"unknown fault {name!r}; choose from: {choices}") from None
    probability = None
    if prob_text:
        try:
            probability = float(prob_text)
        except ValueError:
            raise ValueError(f"fault probability {prob_text!r} is not a number") from None
        if not 0.0 <= probability <= 1.0:
            raise ValueError("fault probability must be between 0 and 1")
    return fault, probability, task_id or None


# Strings a client must show as inert text: Rich/Textual markup, terminal escapes (CSI,
# OSC 52 clipboard write, one-byte C1 CSI), NUL, bidi override, combining marks.
HOSTILE_TEXTS: Final = (
    "[bold red]not bold[/] [/] [link=file:///etc/passwd]x[/link] [@click=app.quit]quit[/]",
    "clear\x1b[2J\x1b[H screen \x1b]52;c;aGk=\x07 clipboard \x9b31m c1-csi",
    "nul\x00byte \u202eright-to-left override\u202c and tab\tand\nnewline\r\nCRLF",
    "Z\u0351\u0352\u0357a\u0358\u035c\u0361l\u0362\u0489g\u0334o combining",
    "非拉丁文字のプロンプト — Ελληνικά — العربية — עברית — 🦄🐉",
    "[" * 50 + "unbalanced" + "]" * 3 + " \\[escaped] $variable ${x} {{template}}",
)
HOSTILE_URLS: Final = (
    "javascript:alert(1)",
    "file:///etc/passwd",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "https://user:password@example.invalid/secret.png",
    "https://example.invalid/a\nb.png",
    "https://example.invalid/\x1b]52;c;aGk=\x07.png",
    "[link=https://evil.invalid]https://example.invalid/ok.png[/link]",
    "https://example.invalid/" + "a" * 10_000 + ".png",
)
LONG_HOSTILE: Final = ("A very long line of text without any breaks " * 230)[:10_000]
