"""Ayrshare (a posting aggregator) as a `Publisher`: upload the video (POST /api/media/upload), post it to
one or several networks in one call (POST /api/post), look a post up by ACTP's idempotency key
(GET /api/history) and read each network's analytics back (POST /api/analytics/post), over httpx.

The shapes are those of Ayrshare's API reference (ayrshare.com/docs: Post, Get a Post, History, Upload
Media, Analytics on a Post, Delete a Post, HTTP Status Codes, Ayrshare Error Codes).

Pointing it at real Ayrshare
----------------------------
    import os
    publisher = AyrsharePublisher(
        api_key=os.environ["ACTP_AGGREGATOR_API_KEY"],          # an EnvVar (dagster.EnvVar in a resource),
        profile_key=os.environ.get("ACTP_AGGREGATOR_PROFILE_KEY"),  # never a file in git; None = Primary Profile
        base_url="https://api.ayrshare.com",                     # the default
        networks=("tiktok", "instagram", "youtube"),             # what platform "aggregator" posts to
    )
or `AyrsharePublisher.from_env(account)`: ACTP_AGGREGATOR_API_KEY, optional ACTP_AGGREGATOR_BASE_URL,
the account's Profile-Key in ACTP_AGGREGATOR_PROFILE_KEY_<ACCOUNT> (else ACTP_AGGREGATOR_PROFILE_KEY, else
the Primary Profile) and ACTP_AGGREGATOR_NETWORKS (comma-separated; default tiktok,instagram,youtube).
The API key is the Primary Profile's (Ayrshare dashboard, API Key page); with a Business plan each client
is a User Profile, reached by sending its Profile-Key header with the same API key: one publisher per
profile. Posting videos, /media/upload and analytics need a Premium or Business plan. The key is sent
only in the Authorization header, never logged. Against the sandbox: base_url=sandbox.url, api_key one
of its API keys, profile_key from `<the sandbox's Ayrshare dialect>.service.profile_keys()` (or None),
clock=<the sandbox clock>.

What is written by hand, and why httpx
--------------------------------------
Ayrshare's official Python package (`social-post-api` on PyPI, module `ayrshare`, maintained: 1.3.0 is of
2026) is a thin wrapper over `requests` that was not chosen because it cannot carry what ACTP needs to
never post twice: it sends no timeout (a stalled call hangs the worker), returns only `r.json()` (the
HTTP status, which tells a refusal from an unknown outcome, and the x-ratelimit-* headers are lost),
takes its base URL from a module global (pointing it at the sandbox means patching the module), adds
"source": "pypi" to every body and has no multipart upload. The REST API is a few JSON calls, so this
module speaks them itself, in one place.

Not posting twice (Ayrshare has no idempotency key)
---------------------------------------------------
Ayrshare documents no idempotency parameter, and its own duplicate check is by content (and per network,
e.g. X's "Status is a duplicate"), which is no key. So each post carries ACTP's key in `notes` (Ayrshare's
"reference notes set via /post", returned by /history and /post/:id and never shown on the networks):
`actp-ref:<24 hex of the key's SHA-256>`. `find_post` reads /history (lastDays=0: every post, scheduled
ones included) for that marker. `publish` looks first, so a retry after an ambiguous answer (a timeout
or a 5xx on POST /api/post, raised as AmbiguousOutcome) returns the first post instead of making a
second. Two reads, because /history caches its answer for a minute when limit > 25: the first read
(limit 25, never cached) sees the newest posts, the second (limit `lookup_limit`) the older ones. A
record whose every network failed is no post (nothing reached a network), so posting again is safe; a
post deleted through Ayrshare is not returned (history omits deleted posts).

Post ids and metrics
--------------------
Ayrshare gives one post id for the call and, per network, the network's own post id and URL.
`publish(platform=<network>)` posts to that network alone; its post_id is `<Ayrshare id>:<network>`
(self-describing, so `metrics` knows what to ask). `publish(platform="aggregator")` posts to every
network of `networks` in one Ayrshare post; its post_id is the bare Ayrshare id and `posts`/`errors` hold
each network (a network that refused does not fail the post while another took it). `publish_to(networks)`
is the same for any list. `metrics` asks /analytics/post once per Ayrshare post: for `<id>:<network>` the
network's counts, for a bare id one item whose counts are the sum over the networks (None when any
network's count is unknown) with the per-network items under "networks". Counts are read under
Ayrshare's per-network field names (tiktok videoViews/likeCount/commentsCount/shareCount, youtube
views/likes/comments/shares, instagram and others likeCount/commentsCount/sharesCount and a views field);
a count the answer does not carry is None, never 0. A post still scheduled is an item with status
"scheduled" and counts of None; a network Ayrshare no longer returns is "unavailable"; a deleted post is
"deleted".

Errors
------
- 401 (API key) and 403 (Profile-Key, suspended profile): PlatformError, not retryable.
- 429: per User Profile, a number of requests per 5-minute window (x-ratelimit-max/-count headers, no
  Retry-After): in `publish` (the lookup, the upload or POST /api/post itself) SendRefused(reason=
  "rate_limit", wait_s=300), since nothing was created; elsewhere a retryable AyrshareApiError with
  retry_after_s=300 (metrics: the ids are "deferred"). `rate_limit` keeps the last headers seen.
- POST /api/post: a timeout or lost connection after sending, or a 5xx: AmbiguousOutcome. A 400 with
  some networks in postIds and others in errors is a partial success (`publish_to` returns both; the
  single-network `publish` raises PlatformError when its network refused). Per-network errors keep
  Ayrshare's code (AyrshareApiError.code; 156: network not linked).
- Any other 4xx: PlatformError (not retryable); 5xx and transport errors elsewhere: retryable.

Wiring it needs (not done here: those files belong to others)
-------------------------------------------------------------
publish/dialects.py registers "aggregator" as pending and builds it with `AyrsharePublisher.from_dialect`;
this class offers `for_dialect(ctx, account)` (same signature) instead, so the pending test of that
module stays true until its owner switches: `register("aggregator", AyrsharePublisher.for_dialect)` (or
rename) and drop "aggregator" from the still-pending names in tests/core/test_publish_dialects.py.
settings.py already has ACTP_AGGREGATOR_API_KEY / ACTP_AGGREGATOR_BASE_URL; the Profile-Keys and the
networks are read from the environment here (ACTP_AGGREGATOR_PROFILE_KEY[_<ACCOUNT>],
ACTP_AGGREGATOR_NETWORKS) until settings carries them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import httpx

from actp_pipeline.publish.publisher import (
    AmbiguousOutcome,
    BeforeSend,
    PlatformError,
    SendRefused,
)

BASE_URL = "https://api.ayrshare.com"
RATE_WINDOW_S = 300.0  # "requests per 5-minute interval" per User Profile
MAX_UPLOAD_BYTES = 30 * 1024 * 1024  # /media/upload: "Maximum file size: 30 MB"
UNCACHED_HISTORY_LIMIT = 25  # /history caches its answer for a minute when limit is above 25
MARKER_PREFIX = "actp-ref:"
YOUTUBE_TITLE_MAX = 100
NETWORK_TEXT_LIMITS = {"tiktok": 2200, "instagram": 2200, "youtube": 5000}
VIEW_FIELDS = ("videoViews", "views", "viewsCount", "videoViewsCount", "playsCount", "plays", "impressionCount")
LIKE_FIELDS = ("likeCount", "likes", "likesCount")
COMMENT_FIELDS = ("commentsCount", "comments", "commentCount")
SHARE_FIELDS = ("shareCount", "shares", "sharesCount")
COUNTS = ("views", "likes", "comments", "shares")
AGGREGATOR = "aggregator"  # ACTP's platform name for "every network of the profile, through Ayrshare"
DEFAULT_NETWORKS = ("tiktok", "instagram", "youtube")


class AyrshareApiError(PlatformError):
    """An error answer of Ayrshare: `code` is Ayrshare's error code, `errors` the per-network errors."""

    def __init__(self, message: str, *, status: int | None, code: int | None, retryable: bool,
                 retry_after_s: float | None = None, errors: list[dict[str, Any]] | None = None):
        super().__init__(message, status=status, retryable=retryable, retry_after_s=retry_after_s)
        self.code = code
        self.errors = list(errors or [])


def key_marker(idempotency_key: str) -> str:
    """The reference ACTP puts in a post's `notes` to find it again by its idempotency key."""
    return MARKER_PREFIX + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:24]


def post_text(caption: str, hashtags: list[str]) -> str:
    """The caption and the hashtags it does not already carry."""
    tags = " ".join(f"#{h.lstrip('#')}" for h in hashtags if h.strip() and f"#{h.lstrip('#')}" not in caption)
    return " ".join(p for p in (caption.strip(), tags) if p)


def youtube_title(caption: str) -> str:
    first = (caption.strip().splitlines() or ["Untitled"])[0]
    return first.replace("<", "").replace(">", "")[:YOUTUBE_TITLE_MAX].strip() or "Untitled"


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isascii() and value.strip().isdigit() and len(value) < 30:
        return int(value)
    return None


def _first(analytics: dict[str, Any], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in analytics:
            return _count(analytics[name])
    return None


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(t: dt.datetime) -> str:
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def profile_key_for(account: str) -> str | None:
    """The account's Profile-Key: ACTP_AGGREGATOR_PROFILE_KEY_<ACCOUNT> (upper case, - as _), else
    ACTP_AGGREGATOR_PROFILE_KEY, else None (the Primary Profile)."""
    name = "ACTP_AGGREGATOR_PROFILE_KEY_" + "".join(c if c.isalnum() else "_" for c in account.upper())
    return os.environ.get(name) or os.environ.get("ACTP_AGGREGATOR_PROFILE_KEY") or None


def networks_from_env() -> tuple[str, ...]:
    """ACTP_AGGREGATOR_NETWORKS (comma-separated Ayrshare platform names), else tiktok, instagram, youtube."""
    raw = os.environ.get("ACTP_AGGREGATOR_NETWORKS") or ""
    names = tuple(n.strip().lower() for n in raw.split(",") if n.strip())
    return names or DEFAULT_NETWORKS


def split_post_id(post_id: str) -> tuple[str, str | None]:
    """(Ayrshare id, network or None) of an ACTP post id."""
    ayr, sep, network = post_id.partition(":")
    return ayr, (network or None) if sep else None


class AyrsharePublisher:
    """Publishing, post lookup and analytics through Ayrshare for one profile (API key + Profile-Key)."""

    platform = "aggregator"

    def __init__(self, api_key: str, *, base_url: str = BASE_URL, profile_key: str | None = None,
                 account: str = "main", networks: tuple[str, ...] | list[str] = DEFAULT_NETWORKS,
                 timeout_s: float = 60.0, upload_timeout_s: float = 300.0,
                 lookup_limit: int = 200, media_url: Callable[[Path], str] | None = None,
                 clock: Callable[[], dt.datetime] | None = None, transport: httpx.BaseTransport | None = None):
        if not api_key:
            raise ValueError("an Ayrshare API key is required")
        self.base_url = base_url.rstrip("/")
        self.account = account
        self.networks = tuple(dict.fromkeys(networks))
        self.upload_timeout_s = upload_timeout_s
        self.lookup_limit = max(UNCACHED_HISTORY_LIMIT, int(lookup_limit))
        self.media_url = media_url
        self._clock = clock or _utcnow
        headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        if profile_key:
            headers["Profile-Key"] = profile_key
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s, transport=transport, headers=headers)
        self.rate_limit: dict[str, int] = {}  # the last x-ratelimit-max / x-ratelimit-count seen

    @classmethod
    def from_env(cls, account: str = "main", **kw: Any) -> Self:
        """ACTP_AGGREGATOR_API_KEY, ACTP_AGGREGATOR_BASE_URL, the account's Profile-Key and the networks
        (see `profile_key_for`, `networks_from_env`)."""
        return cls(os.environ["ACTP_AGGREGATOR_API_KEY"], base_url=os.environ.get("ACTP_AGGREGATOR_BASE_URL", BASE_URL),
                   profile_key=profile_key_for(account), account=account, networks=networks_from_env(), **kw)

    @classmethod
    def for_dialect(cls, ctx: Any, account: str) -> Self:
        """Built like the other native adapters (publish/dialects.py's DialectContext): the aggregator's token
        and base URL from the settings, the account's Profile-Key and the networks from the environment."""
        return cls(ctx.token(AGGREGATOR), base_url=ctx.settings.dialect_url(AGGREGATOR) or BASE_URL,
                   profile_key=profile_key_for(account), account=account, networks=networks_from_env(),
                   clock=ctx.aware_clock())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------ calls
    def _send(self, method: str, path: str, *, create: bool = False, **kw: Any) -> httpx.Response:
        """One request; transport failures classified (AmbiguousOutcome for a create call that may have
        arrived)."""
        what = f"Ayrshare {method} {path}"
        try:
            resp = self._http.request(method, path, **kw)
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:  # nothing reached Ayrshare
            raise PlatformError(f"{what}: cannot connect ({e})", retryable=True, sent=False) from e
        except httpx.TransportError as e:
            if create:
                raise AmbiguousOutcome(f"{what}: {type(e).__name__} after sending ({e}); the post may exist",
                                       retryable=True) from e
            raise PlatformError(f"{what}: {type(e).__name__} ({e})", retryable=True) from e
        for name in ("x-ratelimit-max", "x-ratelimit-count"):
            value = resp.headers.get(name)
            if value is not None and value.isascii() and value.strip().isdigit() and len(value) < 30:
                self.rate_limit[name] = int(value)
        return resp

    @staticmethod
    def _json(resp: httpx.Response) -> Any:
        try:
            return resp.json()
        except ValueError:
            return None

    def _error(self, what: str, resp: httpx.Response, payload: Any, *, create: bool = False) -> PlatformError:
        status = resp.status_code
        body = payload if isinstance(payload, dict) else {}
        errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        first = errors[0] if errors else body
        code = _count(first.get("code"))
        message = str(first.get("message") or resp.text[:300])
        text = f"{what} -> HTTP {status} code {code}: {message}"
        if status == 429:
            if create:
                return SendRefused(f"Ayrshare's rate limit is reached ({text}); nothing was posted",
                                   reason="rate_limit", wait_s=RATE_WINDOW_S)
            return AyrshareApiError(text, status=status, code=code, retryable=True, retry_after_s=RATE_WINDOW_S,
                                    errors=errors)
        if status >= 500:
            if create:
                return AmbiguousOutcome(f"{text}; the post may exist", status=status, retryable=True)
            return AyrshareApiError(text, status=status, code=code, retryable=True, errors=errors)
        return AyrshareApiError(text, status=status, code=code, retryable=False, errors=errors)

    def _call(self, method: str, path: str, *, check_status: bool = True, **kw: Any) -> Any:
        """A call that must answer 200 with JSON (and, unless check_status is False, not status "error":
        GET /post/:id's status is the post's, not the call's)."""
        resp = self._send(method, path, **kw)
        payload = self._json(resp)
        if resp.status_code != 200 or not isinstance(payload, (dict, list)) or (
                check_status and isinstance(payload, dict) and payload.get("status") == "error"):
            raise self._error(f"Ayrshare {method} {path}", resp, payload)
        return payload

    # ------------------------------------------------------------------------------------ media
    def upload_media(self, media_path: Path) -> str:
        """The URL Ayrshare gives the uploaded video (multipart /media/upload), or `media_url(path)` for a
        file over 30 MB (host it yourself: Ayrshare takes an https URL in mediaUrls)."""
        path = Path(media_path)
        size = path.stat().st_size
        if size == 0:
            raise PlatformError(f"{path} is empty", retryable=False, sent=False)
        if size > MAX_UPLOAD_BYTES:
            if self.media_url is None:
                raise PlatformError(f"{path} is {size} bytes; /media/upload takes at most {MAX_UPLOAD_BYTES}: give "
                                    "AyrsharePublisher a media_url callable that hosts it", retryable=False, sent=False)
            return self.media_url(path)
        with open(path, "rb") as fh:
            answer = self._call("POST", "/api/media/upload", files={"file": (path.name, fh, "video/mp4")},
                                data={"fileName": path.name}, timeout=self.upload_timeout_s)
        url = answer.get("url") if isinstance(answer, dict) else None
        if not isinstance(url, str) or not url:
            raise PlatformError(f"Ayrshare /media/upload answered no url: {str(answer)[:300]}", retryable=True)
        return url

    # ---------------------------------------------------------------------------------- publish
    def publish(self, *, media_path: Path, platform: str, account: str, caption: str, hashtags: list[str],
                scheduled_at: dt.datetime | None, idempotency_key: str,
                before_send: BeforeSend | None = None) -> dict[str, Any]:
        """Post the video to one network (post_id `<Ayrshare id>:<network>`), or with platform "aggregator" to
        every network of `networks` in one Ayrshare post (post_id: the Ayrshare id; `posts` and `errors` per
        network; PlatformError only when no network took it). Returns post_id, url, live_at, status.
        PlatformError when the named network refused it."""
        networks = list(self.networks) if platform == AGGREGATOR else [platform]
        result = self.publish_to(networks, media_path=media_path, caption=caption, hashtags=hashtags,
                                 scheduled_at=scheduled_at, idempotency_key=idempotency_key, before_send=before_send,
                                 account=account)
        if platform == AGGREGATOR:
            return self._aggregate_post(result, idempotency_key, account)
        if platform not in result["posts"]:
            err = result["errors"].get(platform) or {}
            raise AyrshareApiError(f"Ayrshare: {platform} refused the post: code {err.get('code')}: "
                                   f"{err.get('message')}", status=400, code=_count(err.get("code")),
                                   retryable=False, errors=[err] if err else [])
        return {**result["posts"][platform], "posts": result["posts"], "errors": result["errors"]}

    def publish_to(self, networks: list[str], *, media_path: Path, caption: str, hashtags: list[str],
                   scheduled_at: dt.datetime | None, idempotency_key: str, before_send: BeforeSend | None = None,
                   account: str | None = None) -> dict[str, Any]:
        """Post the video to several networks in one Ayrshare post, once per idempotency key.

        Returns {"ayrshare_id", "status", "posts": {network: post}, "errors": {network: error}}: a
        network that refused is in "errors" while the others posted. Raises when nothing was posted."""
        networks = list(dict.fromkeys(networks))
        if not networks:
            raise ValueError("name at least one network")
        try:
            found = self.find_post(idempotency_key)
            if found is not None:
                return found["result"]
            url = self.upload_media(media_path)
        except AyrshareApiError as e:
            if e.status == 429:  # the profile's window is full before anything was created: wait, then retry
                raise SendRefused(f"Ayrshare's rate limit is reached before posting ({e}); nothing was posted",
                                  reason="rate_limit", wait_s=e.retry_after_s or RATE_WINDOW_S) from e
            raise
        text = post_text(caption, hashtags)
        body: dict[str, Any] = {"post": text, "platforms": networks, "mediaUrls": [url], "isVideo": True,
                                "notes": key_marker(idempotency_key)}
        if "youtube" in networks:
            body["youTubeOptions"] = {"title": youtube_title(caption)}
        when = None
        if scheduled_at is not None:
            when = scheduled_at if scheduled_at.tzinfo else scheduled_at.replace(tzinfo=dt.UTC)  # naive = UTC
            if when > self._clock():
                body["scheduleDate"] = when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # the documented form
        if before_send is not None:
            before_send()  # the lease fence and the rate-limit stamp, right before the create call
        resp = self._send("POST", "/api/post", create=True, json=body)
        payload = self._json(resp)
        if not isinstance(payload, dict):
            if resp.status_code >= 500 or resp.status_code == 200:
                raise AmbiguousOutcome(f"Ayrshare POST /api/post -> HTTP {resp.status_code} without a JSON answer; "
                                       "the post may exist", status=resp.status_code, retryable=True)
            raise self._error("Ayrshare POST /api/post", resp, payload, create=True)
        post_ids = [p for p in payload.get("postIds") or [] if isinstance(p, dict)]
        scheduled = payload.get("status") == "scheduled"
        if resp.status_code != 200 and not post_ids:
            raise self._error("Ayrshare POST /api/post", resp, payload, create=True)
        record = {"id": payload.get("id"), "status": payload.get("status"), "platforms": networks,
                  "postIds": post_ids, "errors": payload.get("errors") or [],
                  "scheduleDate": payload.get("scheduleDate") or (_iso(when) if when and scheduled else None),
                  "created": _iso(self._clock())}
        if not isinstance(record["id"], str) or not record["id"]:
            raise AmbiguousOutcome(f"Ayrshare POST /api/post answered no post id: {str(payload)[:300]}",
                                   status=resp.status_code, retryable=True)
        return self._result(record, idempotency_key, account)

    def _aggregate_post(self, result: dict[str, Any], key: str | None, account: str | None = None) -> dict[str, Any]:
        """The one ACTP post of an Ayrshare post to several networks (post_id: the Ayrshare id)."""
        first = next(iter(result["posts"].values()))
        statuses = {p["status"] for p in result["posts"].values()}
        return {**first, "post_id": result["ayrshare_id"], "platform": AGGREGATOR, "social_id": None,
                "status": "scheduled" if statuses == {"scheduled"} else "live", "account": account or self.account,
                "idempotency_key": key, "posts": result["posts"], "errors": result["errors"]}

    def _result(self, record: dict[str, Any], key: str | None, account: str | None = None) -> dict[str, Any]:
        """ACTP's view of an Ayrshare post record (a /post answer or a /history item)."""
        ayr = record["id"]
        status = record.get("status")
        live_at = record.get("scheduleDate") if isinstance(record.get("scheduleDate"), str) else record.get("created")
        pending = status in ("scheduled", "pending")
        posts: dict[str, Any] = {}
        for p in record.get("postIds") or []:
            network = p.get("platform")
            if not isinstance(network, str) or p.get("status") not in (None, "success"):
                continue
            posts[network] = {"post_id": f"{ayr}:{network}", "ayrshare_id": ayr, "platform": network,
                              "social_id": str(p.get("id")) if p.get("id") is not None else None,
                              "url": p.get("postUrl"), "live_at": live_at, "status": "live",
                              "account": account or self.account, "idempotency_key": key}
        if pending:  # a scheduled post has no network ids until it is sent
            for network in record.get("platforms") or []:
                posts.setdefault(network, {"post_id": f"{ayr}:{network}", "ayrshare_id": ayr, "platform": network,
                                           "social_id": None, "url": None, "live_at": live_at,
                                           "status": "scheduled", "account": account or self.account,
                                           "idempotency_key": key})
        errors = {e.get("platform"): e for e in record.get("errors") or [] if isinstance(e, dict) and e.get("platform")}
        for network in errors:
            posts.pop(network, None)
        return {"ayrshare_id": ayr, "status": status, "posts": posts, "errors": errors}

    # ------------------------------------------------------------------------------------ lookup
    def history(self, limit: int = UNCACHED_HISTORY_LIMIT, **params: Any) -> list[dict[str, Any]]:
        answer = self._call("GET", "/api/history", params={"lastDays": 0, "limit": limit, **params})
        items = answer.get("history") if isinstance(answer, dict) else answer  # older editions: a bare list
        return [i for i in items or [] if isinstance(i, dict)]

    def get_post(self, ayrshare_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/post/{ayrshare_id}", check_status=False)

    def find_post(self, idempotency_key: str) -> dict[str, Any] | None:
        """The post made for this key (the first network's post, with "posts" and "result" for all), or None
        when Ayrshare has none that reached a network."""
        marker = key_marker(idempotency_key)
        seen: set[str] = set()
        for limit in (UNCACHED_HISTORY_LIMIT, self.lookup_limit):
            items = self.history(limit=limit)
            for item in items:
                if item.get("id") in seen:
                    continue
                seen.add(item.get("id"))
                if marker not in str(item.get("notes") or ""):
                    continue
                result = self._result(item, idempotency_key)
                if not result["posts"]:
                    continue  # every network failed: nothing was posted
                first = next(iter(result["posts"].values()))
                return {**first, "posts": result["posts"], "errors": result["errors"], "result": result}
            if len(items) < limit:
                return None
        return None

    # ----------------------------------------------------------------------------------- metrics
    def metrics(self, post_ids: list[str]) -> dict[str, Any]:
        """Views, likes, comments and shares per post ({"as_of", "items", "unknown", "deferred"}).

        A post id is `<Ayrshare id>:<network>` (or a bare Ayrshare id: all its networks). Counts Ayrshare
        did not report are None; a scheduled post is an item with status "scheduled" and counts of None;
        "unknown": ids Ayrshare does not know; "deferred": ids not asked because of the rate limit."""
        out: dict[str, Any] = {"as_of": _iso(self._clock()), "items": [], "unknown": [], "deferred": []}
        by_ayr: dict[str, list[tuple[str, str | None]]] = {}
        for pid in dict.fromkeys(post_ids):
            ayr, network = split_post_id(pid)
            by_ayr.setdefault(ayr, []).append((pid, network))
        limited = False
        for ayr, wanted in by_ayr.items():
            if limited:
                out["deferred"].extend(pid for pid, _ in wanted)
                continue
            networks = [n for _, n in wanted if n]
            body: dict[str, Any] = {"id": ayr}
            if networks and all(n for _, n in wanted):
                body["platforms"] = list(dict.fromkeys(networks))
            try:
                answer = self._call("POST", "/api/analytics/post", json=body)
            except AyrshareApiError as e:
                if e.status == 429:
                    limited = True
                    out["deferred"].extend(pid for pid, _ in wanted)
                elif e.status == 404:
                    out["unknown"].extend(pid for pid, _ in wanted)
                elif e.status == 400:  # scheduled and not yet sent, or deleted: known, no counts
                    state = self._state_of(ayr)
                    for pid, network in wanted:
                        out["items"].append(self._item(pid, network or AGGREGATOR, None, state))
                else:
                    raise
                continue
            for pid, network in wanted:
                if network:
                    entry = answer.get(network)
                    out["items"].append(self._item(pid, network, entry if isinstance(entry, dict) else None,
                                                   "live" if isinstance(entry, dict) else "unavailable"))
                    continue
                parts = {k: self._item(f"{ayr}:{k}", k, v, "live") for k, v in answer.items()
                         if isinstance(v, dict) and "analytics" in v}
                out["items"].append(self._sum(pid, parts))
        return out

    @staticmethod
    def _sum(post_id: str, parts: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """One item for a post to several networks: each count summed, None when any network's is unknown."""
        item: dict[str, Any] = {"post_id": post_id, "platform": AGGREGATOR, "social_id": None, "url": None,
                                "status": "live" if parts else "unavailable", "networks": parts}
        for name in COUNTS:
            values = [p[name] for p in parts.values()]
            item[name] = sum(values) if values and all(v is not None for v in values) else None
        return item

    def _state_of(self, ayrshare_id: str) -> str:
        """ACTP's status of a post without analytics: scheduled (Ayrshare "pending"), deleted, or error."""
        status = self.get_post(ayrshare_id).get("status")
        return {"pending": "scheduled", "deleted": "deleted", "paused": "scheduled",
                "awaiting approval": "scheduled", "processing": "processing"}.get(str(status), "error")

    @staticmethod
    def _item(post_id: str, network: str | None, entry: dict[str, Any] | None, status: str) -> dict[str, Any]:
        analytics = entry.get("analytics") if isinstance(entry, dict) else None
        analytics = analytics if isinstance(analytics, dict) else {}
        return {"post_id": post_id, "platform": network,
                "social_id": str(entry["id"]) if isinstance(entry, dict) and entry.get("id") is not None else None,
                "url": entry.get("postUrl") if isinstance(entry, dict) else None, "status": status,
                "views": _first(analytics, VIEW_FIELDS), "likes": _first(analytics, LIKE_FIELDS),
                "comments": _first(analytics, COMMENT_FIELDS), "shares": _first(analytics, SHARE_FIELDS)}

    # ------------------------------------------------------------------------------------ delete
    def delete(self, ayrshare_id: str) -> dict[str, Any]:
        """Delete the post at every network that allows it (Ayrshare: not published TikTok/Instagram posts)."""
        resp = self._send("DELETE", "/api/post", json={"id": ayrshare_id})
        payload = self._json(resp)
        if resp.status_code == 200 and isinstance(payload, dict):
            return payload
        raise self._error("Ayrshare DELETE /api/post", resp, payload)
