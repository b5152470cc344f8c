"""What the dashboard talks to, built from the settings: the client, the watchlist
store, and for ``--demo`` the embedded simulator. Plain Python (no Textual).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.errors import AIReiterError, AuthenticationError
from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.secret import ApiKey
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry

if TYPE_CHECKING:
    from aireiter_tui.api.client import AIReiterClient
    from aireiter_tui.domain.output_cache import OutputCache
    from aireiter_tui.simulator import Simulator


#: The settings' megabytes are decimal, as file sizes are shown (``41 KB``, ``1.2 MB``).
MEGABYTE: Final = 1_000_000


def build_client(settings: Settings, *, concurrency: int | None = None) -> AIReiterClient:
    """The API client for ``settings``: its server, key, timeout and concurrency.

    ``concurrency`` overrides the setting (a one-off query needs one connection). The
    client module is imported here, not at start-up: httpx and aiohttp take about 0.2 s.
    Callers that want to say where a key goes check ``settings.api_key`` first.

    Raises:
        AuthenticationError: ``settings`` has no API key.
        InsecureURLError: the base URL is refused; the message says what to change.
    """
    from aireiter_tui.api.client import AIReiterClient

    if not settings.api_key:
        raise AuthenticationError(
            "No API key is set; add your AIReiter API key to the configuration first."
        )
    return AIReiterClient(
        settings.base_url,
        settings.api_key,
        timeout=settings.request_timeout,
        concurrency=settings.concurrency if concurrency is None else concurrency,
        allow_insecure_http=settings.allow_insecure_http,
    )


@dataclass
class Backend:
    """The dashboard's connections; :meth:`prepare` and :meth:`connect` run inside the
    app's event loop, :meth:`stop` on the way out."""

    settings: Settings
    store: WatchlistStore | None
    config_path: Path | None = None
    simulator: Simulator | None = None
    client: AIReiterClient | None = None
    #: Why there is no client (no key, a refused URL): shown to the user.
    problem: str | None = None
    demo_refs: list[TaskRef] = field(default_factory=list)
    #: The app's cache folder (``$XDG_CACHE_HOME/aireiter-tui``); None: no previews.
    cache_dir: Path | None = None
    #: The output cache behind the previews, made by :meth:`connect` from ``cache_dir``.
    outputs: OutputCache | None = None

    @property
    def theme_path(self) -> Path | None:
        """Where a theme picked in the app is remembered: the config file, but never for
        the demo, which leaves the user's files alone (it has its own watchlist too)."""
        return None if self.simulator is not None else self.config_path

    @property
    def download_dir(self) -> Path:
        """Where outputs are downloaded: the setting, else the XDG download folder's."""
        from aireiter_tui.domain.download_names import default_download_dir

        return self.settings.download_dir or default_download_dir()

    @property
    def where(self) -> str:
        base = self.client.base_url if self.client else self.settings.base_url
        if self.simulator is not None:
            return f"demo simulator {base}"
        return f"{self.settings.profile} · {base}" if self.settings.profile else base

    async def prepare(self) -> None:
        """What must happen before the watchlist is loaded: the demo's simulator."""
        if self.simulator is None:
            return
        await self.simulator.start()
        self.demo_refs = [
            TaskRef(IdKind(kind), ident) for kind, ident in self.simulator.seed_demo()
        ]
        if self.store is not None:
            # The demo file is ours alone: every demo run starts from the seeded set.
            now = datetime.now(UTC)
            self.store.path.unlink(missing_ok=True)
            self.store.save(
                [WatchEntry(ref=ref, label=None, added_at=now) for ref in self.demo_refs]
            )

    async def connect(self) -> None:
        """Create the one shared client, or say in ``problem`` why there is none.

        The dashboard calls this after its first frame: the client's imports (httpx,
        aiohttp) cost about 0.2 s that the cached table need not wait for.
        """
        settings = self.settings
        if self.cache_dir is not None and self.outputs is None:
            # Imported here for the same reason as the client: httpx is slow to import.
            from aireiter_tui.domain.output_cache import OUTPUTS_DIR, OutputCache

            self.outputs = OutputCache(
                self.cache_dir / OUTPUTS_DIR,
                max_bytes=settings.cache_max_mb * MEGABYTE,
                max_file_bytes=settings.max_output_mb * MEGABYTE,
            )
        if self.simulator is not None:
            settings = replace(
                settings,
                base_url=self.simulator.base_url,
                api_key=ApiKey(self.simulator.api_key),
            )
        if not settings.api_key:
            self.problem = (
                "No API key is set. Set AIREITER_API_KEY, or put api_key in "
                f"{self.config_path or 'config.toml'}; or try `aireiter-tui --demo`."
            )
            return
        try:
            self.client = build_client(settings)
        except AIReiterError as error:
            self.problem = error.human()

    async def stop(self) -> None:
        if self.outputs is not None:
            await self.outputs.aclose()
        if self.client is not None:
            await self.client.aclose()
        if self.simulator is not None:
            await self.simulator.stop()
