"""Each post through its own platform's API (`ACTP_PUBLISHER=native`): the per-platform registry of dialect
adapters, and the publisher and metrics reader that route every call to the adapter of the post's platform.

One job: choosing and building adapters. The adapters themselves live in their own modules (tiktok.py on
httpx, youtube.py on google-api-python-client, instagram.py on facebook-business, ayrshare.py on httpx); this module
knows only how to construct each from the settings, and routes by platform (and account).

Plugging a platform in
----------------------
`register(platform, builder)`, where `builder(ctx, account)` returns an adapter with
- the `Publisher` protocol's `publish(...)` (publisher.py) and `find_post(idempotency_key)`;
- `metrics(post_ids) -> {"as_of": ISO 8601, "items": [...], "unknown": [ids]}` (optionally "deferred": ids
  not read this time), each item a dict with post_id, status and the counts views, likes, comments, shares
  (and saves, watch_time_s, followers_gained where the platform reports them); a count the platform does
  not know yet is None, never 0 (the collection then records no snapshot for the post); a post whose public
  id differs from the ledger's external id carries it as `video_id` (and its `url`);
- `close()`.
Refusals: SendRefused(reason="rate_limit" | "quota", wait_s) before anything is sent; a platform's quota
answer as an exception with `quota_exhausted = True` or youtube.QuotaExceeded (posts.py waits it out).
A platform without a token (or, for Instagram, without its IG user id) raises DialectUnavailable saying
which EnvVar to set.

Tokens and hosts: `Settings.dialect_token(platform)` (ACTP_<PLATFORM>_ACCESS_TOKEN, the sandbox's public key
only against the embedded sandbox) and `Settings.dialect_url(platform)` (ACTP_<PLATFORM>_BASE_URL, else the
sandbox, else None: the adapter's documented real host: TikTok https://open.tiktokapis.com, YouTube Google's
own endpoints).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actp_pipeline.publish.publisher import BeforeSend, PlatformError
from actp_pipeline.settings import Settings

Clock = Callable[[], dt.datetime]
# ids per metrics call: TikTok's video/query takes at most 20, YouTube's videos.list at most 50
METRICS_BATCH: dict[str, int] = {"tiktok": 20, "youtube": 50, "instagram": 50, "aggregator": 50}
# a post in one of these states has no counts yet (or will never have any): unknown, not zero
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# the token store's platform of each dialect (accounts.platforms: Google's token is YouTube's, Meta's Instagram's)
STORE_PLATFORM = {"tiktok": "tiktok", "youtube": "youtube", "instagram": "meta"}
UNKNOWN_STATES = ("processing", "moderation", "failed", "rejected", "deleted", "error", "pending", "in_progress",
                  "uploaded", "inbox")
CORE_COUNTS = ("views", "likes", "comments")
ENV_TOKEN_ACCOUNT = "main"  # the account an ACTP_<PLATFORM>_ACCESS_TOKEN posts for


class DialectUnavailable(PlatformError):
    """The platform has no adapter yet, or no token: nothing was sent, and retrying will not help."""

    def __init__(self, message: str):
        super().__init__(message, retryable=False, sent=False)


@dataclass(frozen=True)
class DialectContext:
    """What a builder needs: the settings (tokens, base URLs), where adapters keep files, and the clock."""

    settings: Settings
    data_dir: Path
    clock: Clock | None = None  # the platform's clock (the sandbox's simulated one); None: wall time
    engine: Any = None  # the operational store: tokens connected with `actp accounts connect` come first

    def stored_token(self, platform: str, account: str) -> str | None:
        """The account's token from the store's encrypted token table (refreshed first when it is about to
        expire: accounts.get_token), or None when the account was never connected there (the EnvVar then)."""
        owner = STORE_PLATFORM.get(platform)
        if self.engine is None or owner is None:
            return None
        from actp_pipeline.accounts import NeedsReconnect, NoTokenKey, TokenKeyMismatch, TokenUnavailable, get_token
        from actp_pipeline.accounts.tokens import status_of

        found = status_of(self.engine, owner, account)  # one row, not the whole table, per adapter lookup
        if found is None or found.status == "disconnected":
            return None
        try:
            return get_token(self.engine, owner, account, now=self.aware_clock())
        except (NeedsReconnect, NoTokenKey, TokenKeyMismatch) as e:  # a person must act: nothing is sent until they do
            raise DialectUnavailable(f"{platform} account {account!r}: {e}") from None
        except TokenUnavailable as e:  # the platform's token endpoint is down and the token is stale
            raise PlatformError(f"{platform} account {account!r}: {e}", retryable=True, sent=False) from None

    def token(self, platform: str, account: str = "main") -> str:
        """The account's stored token, else the platform's EnvVar token, which is one account's: on a real
        host it posts only for the default account "main" (another account's post would land on the token's
        own creator); other accounts are connected with `actp accounts connect`. The aggregator's key is the
        business's (accounts are its Profile-Keys), and a sandbox on this machine takes its key for every account."""
        stored = self.stored_token(platform, account)
        if stored:
            return stored
        from actp_pipeline.settings import DIALECT_ENV

        token = self.settings.dialect_token(platform)
        if not token:
            raise DialectUnavailable(f"no token for {platform}: set {DIALECT_ENV[platform][0]} (an EnvVar)")
        if platform in STORE_PLATFORM and account != ENV_TOKEN_ACCOUNT and not self.local(platform):
            raise DialectUnavailable(f"{platform} account {account!r} has no token of its own: "
                                     f"{DIALECT_ENV[platform][0]} posts for account {ENV_TOKEN_ACCOUNT!r} only; connect "
                                     f"this one with `actp accounts connect {STORE_PLATFORM[platform]} "
                                     f"--account {account}`")
        return token

    def local(self, platform: str) -> bool:
        """True when `platform`'s API answers on this machine (a sandbox on any port): poll it briskly."""
        from urllib.parse import urlsplit

        return urlsplit(self.settings.dialect_url(platform) or "").hostname in LOOPBACK

    def aware_clock(self) -> Clock:
        clock = self.clock

        def now() -> dt.datetime:
            t = clock() if clock is not None else dt.datetime.now(dt.UTC)
            return t if t.tzinfo else t.replace(tzinfo=dt.UTC)  # the store's naive times are UTC
        return now


Builder = Callable[[DialectContext, str], Any]


def _tiktok(ctx: DialectContext, account: str) -> Any:
    from actp_pipeline.publish.tiktok import BASE_URL, TikTokPublisher

    return TikTokPublisher(ctx.token("tiktok", account), base_url=ctx.settings.dialect_url("tiktok") or BASE_URL,
                           account=account, journal_path=ctx.data_dir / "publish" / "tiktok_journal.sqlite",
                           clock=ctx.aware_clock(), poll_interval_s=0.5 if ctx.local("tiktok") else 3.0)


def _youtube(ctx: DialectContext, account: str) -> Any:
    from google.oauth2.credentials import Credentials

    from actp_pipeline.publish.youtube import YouTubePublisher

    return YouTubePublisher(Credentials(token=ctx.token("youtube", account)), account=account,
                            api_endpoint=ctx.settings.dialect_url("youtube"), clock=ctx.aware_clock())


def _instagram(ctx: DialectContext, account: str) -> Any:
    """Instagram Reels through facebook-business. The Graph host: ACTP_INSTAGRAM_BASE_URL, else the sandbox's
    /graph, else graph.facebook.com; the IG user: ACTP_INSTAGRAM_USER_ID, else (the sandbox only) the token's
    own account read from GET /me."""
    import os
    from urllib.parse import urlsplit

    import httpx

    from actp_pipeline.publish.instagram import API_VERSION, GRAPH_URL, InstagramPublisher

    token = ctx.token("instagram", account)
    override = ctx.settings.dialect_urls.get("instagram")
    sandbox = ctx.settings.dialect_url("instagram")  # the sandbox's root when it is Instagram's host
    graph = str(override).rstrip("/") if override else (f"{sandbox}/graph" if sandbox else GRAPH_URL)
    user = os.environ.get("ACTP_INSTAGRAM_USER_ID")
    if not user and urlsplit(graph).hostname in LOOPBACK:  # the sandbox: its token's own IG user
        resp = httpx.get(f"{graph}/{API_VERSION}/me", params={"fields": "id"},
                         headers={"Authorization": f"Bearer {token}"}, timeout=30.0)
        if resp.status_code != 200:
            raise PlatformError(f"instagram: GET /me answered {resp.status_code}", retryable=resp.status_code >= 500,
                                sent=False)
        user = str(resp.json().get("id") or "")
    if not user:
        raise DialectUnavailable("instagram: set ACTP_INSTAGRAM_USER_ID (the Instagram professional account's id)")
    return InstagramPublisher(token, user, account=account, graph_url=graph,
                              journal_path=ctx.data_dir / "publish" / "instagram_containers.sqlite",
                              clock=ctx.aware_clock(), poll_interval_s=0.5 if ctx.local("instagram") else 5.0)


def _aggregator(ctx: DialectContext, account: str) -> Any:
    """The posting aggregator (Ayrshare) for networks ACTP has no native adapter for, or by choice."""
    from actp_pipeline.publish.ayrshare import AyrsharePublisher

    return AyrsharePublisher.for_dialect(ctx, account)


REGISTRY: dict[str, Builder] = {
    "tiktok": _tiktok,
    "youtube": _youtube,
    "instagram": _instagram,
    "aggregator": _aggregator,
}


def register(platform: str, builder: Builder) -> None:
    """Make `platform` publishable natively (or replace its builder)."""
    REGISTRY[platform] = builder


def available(platform: str) -> str | None:
    """None when `platform` has an adapter to build; else why not, in one line (no token is needed to ask)."""
    if platform not in REGISTRY:
        return f"{platform}: no dialect registered (known: {', '.join(sorted(REGISTRY))})"
    return None


class DialectPublisher:
    """A `Publisher` (and metrics reader) that sends each call to the adapter of the post's platform.

    Adapters are built on first use, one per (platform, account), and kept until `close()`."""

    def __init__(self, ctx: DialectContext, registry: dict[str, Builder] | None = None):
        self.ctx = ctx
        self.registry = REGISTRY if registry is None else registry
        self._adapters: dict[tuple[str, str], Any] = {}
        self._tokens: dict[tuple[str, str], str | None] = {}  # the stored token each adapter was built with
        self._lock = threading.Lock()

    def dialect_of(self, platform: str) -> str:
        """The dialect that posts to `platform`: its own, or another (ACTP_PUBLISH_VIA, e.g. the aggregator)."""
        return self.ctx.settings.publish_via.get(platform, platform)

    def adapter(self, platform: str, account: str) -> Any:
        with self._lock:
            key = (self.dialect_of(platform), account)
            token = self.ctx.stored_token(*key)  # None unless the account is connected in the token store
            if key in self._adapters and self._tokens.get(key) != token:  # refreshed since: rebuild with it
                stale = self._adapters.pop(key)
                getattr(stale, "close", lambda: None)()
            if key not in self._adapters:
                self._tokens[key] = token
                builder = self.registry.get(key[0])
                if builder is None:
                    raise DialectUnavailable(f"{key[0]}: no dialect registered (known: {', '.join(sorted(self.registry))})")
                self._adapters[key] = builder(self.ctx, account)
            return self._adapters[key]

    def now(self) -> dt.datetime:
        """The platform's clock as naive UTC (the store's convention)."""
        return self.ctx.aware_clock()().astimezone(dt.UTC).replace(tzinfo=None)

    # ------------------------------------------------------------------------------ publishing
    def publish(self, *, media_path: Path, platform: str, account: str, caption: str, hashtags: list[str],
                scheduled_at: dt.datetime | None, idempotency_key: str,
                before_send: BeforeSend | None = None) -> dict[str, Any]:
        return self.adapter(platform, account).publish(
            media_path=media_path, platform=platform, account=account, caption=caption, hashtags=hashtags,
            scheduled_at=scheduled_at, idempotency_key=idempotency_key, before_send=before_send)

    def find_post_for(self, platform: str, account: str, idempotency_key: str) -> dict[str, Any] | None:
        return self.adapter(platform, account).find_post(idempotency_key)

    def find_post(self, idempotency_key: str) -> dict[str, Any] | None:
        """By the key alone: its platform read from the key (publish_schedule.idempotency_key puts it second
        from the end), the default account. The worker calls `find_post_for`, which knows both."""
        parts = idempotency_key.rsplit("-", 2)
        if len(parts) != 3 or parts[1] not in self.registry:
            raise PlatformError(f"cannot tell the platform of {idempotency_key!r}: use find_post_for", sent=False)
        return self.find_post_for(parts[1], "main", idempotency_key)

    # -------------------------------------------------------------------------------- metrics
    def metrics_for(self, platform: str, account: str, post_ids: list[str]) -> dict[str, Any]:
        """Metrics of one account's posts, in the platform's batches: {"as_of", "items", "unknown", "pending"}.

        "pending": posts whose counts are not known yet (processing, in moderation, failed, or deferred by
        the platform's limit): no snapshot is recorded for them, never zeros."""
        adapter = self.adapter(platform, account)
        size = METRICS_BATCH.get(self.dialect_of(platform), 50)
        ids = list(dict.fromkeys(post_ids))
        out: dict[str, Any] = {"as_of": None, "items": [], "unknown": [], "pending": []}
        for i in range(0, len(ids), size):
            page = adapter.metrics(ids[i:i + size])
            out["as_of"] = page.get("as_of") or out["as_of"]
            out["unknown"].extend(page.get("unknown") or [])
            out["pending"].extend(page.get("deferred") or [])
            for item in page.get("items") or []:
                (out["pending"] if counts_unknown(item) else out["items"]).append(item)
        return out

    def metrics(self, post_ids: list[str]) -> dict[str, Any]:
        raise PlatformError("a native reader needs each post's platform and account: use metrics_for", sent=False)

    def close(self) -> None:
        with self._lock:
            adapters, self._adapters = list(self._adapters.values()), {}
        for a in adapters:
            close = getattr(a, "close", None)
            if close is not None:
                close()


def counts_unknown(item: dict[str, Any]) -> bool:
    """True when a metrics item carries no usable counts: a state without counts, no views, or a core count
    the platform sent as None (not known yet). A count absent from the item (or None beyond the core
    counts) is one the platform does not report at all: null in the snapshots, never 0."""
    if str(item.get("status") or "live") in UNKNOWN_STATES or item.get("views") is None:
        return True
    return any(c in item and item[c] is None for c in CORE_COUNTS)


def native_publisher(data_dir: Path, clock: Clock | None = None, settings: Settings | None = None,
                     engine: Any = None) -> DialectPublisher:
    """The `native` publisher: tokens from the store's token table when `engine` is given and the account is
    connected there, else from `settings` (default: the environment); hosts from `settings`."""
    return DialectPublisher(DialectContext(settings or Settings(), Path(data_dir), clock, engine))
