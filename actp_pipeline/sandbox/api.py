"""The sandbox's platform API: routes, validation and responses, independent of the HTTP transport.

server.py turns HTTP requests into `Request`s and `Response`s back into HTTP; everything a client can
observe (paths, fields, status codes, error bodies) is decided here. The web upload site under /web/
(web.py) is mounted here too and shares the media and post code paths with /v1/media and /v1/posts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Mapping, Protocol

from . import forms
from . import media as media_probe
from .clock import SimClock, iso
from .errors import ApiError, bad_request, not_found
from .market import MarketRecord
from .seeding import derive_hex
from .state import SandboxState
from .world import Trajectory, World

JSON_BODY_LIMIT = 1024 * 1024
MAX_PAGE = 500
DEFAULT_PAGE = 100
MAX_BATCH = 500
MAX_IDEMPOTENCY_KEY = 200
MAX_CAPTION = 5000
MAX_HASHTAGS = 60
MAX_HASHTAG_LEN = 100
MAX_ADVANCE_HOURS = 24 * 3650
POST_URL = "https://sandbox.actp.local/{platform}/@{account}/video/{post_id}"
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

NO_AUTH, API_KEY, TRUTH = "none", "api_key", "truth"


class Body(Protocol):
    def chunks(self, limit: int) -> Iterator[bytes]: ...

    def read_all(self, limit: int) -> bytes: ...

    def copy_to(self, fileobj: Any, limit: int) -> tuple[int, str]: ...


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: Body


JSON = "application/json"


@dataclass
class Response:
    """`body` is JSON-encoded when content_type is JSON, else sent as is (str is encoded as UTF-8)."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    methods: dict[str, tuple[Callable[..., Response], str]]


# ------------------------------------------------------------------------------------ validation
def _parse_json_body(req: Request) -> dict[str, Any]:
    raw = req.body.read_all(JSON_BODY_LIMIT)
    if not raw.strip():
        raise bad_request("the request body must be a JSON object", field="body", code="invalid_json")

    def _no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    try:
        parsed = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad_request(f"malformed JSON body: {exc}", field="body", code="invalid_json") from None
    if not isinstance(parsed, dict):
        raise bad_request("the request body must be a JSON object", field="body", code="invalid_json")
    return parsed


def _type_error(name: str, expected: str, value: Any) -> ApiError:
    got = "null" if value is None else type(value).__name__
    return bad_request(f"{name} must be {expected}, got {got}", field=name, code="invalid_field")


def _missing(name: str) -> ApiError:
    return bad_request(f"{name} is required", field=name, code="missing_field")


def _str_field(body: dict[str, Any], name: str, *, required: bool = True, max_len: int | None = None,
               allow_empty: bool = False, default: str | None = None) -> str | None:
    if name not in body or (body[name] is None and not required):
        if required:
            raise _missing(name)
        return default
    value = body[name]
    if not isinstance(value, str):
        raise _type_error(name, "a string", value)
    if not allow_empty and not value.strip():
        raise bad_request(f"{name} must not be empty", field=name, code="invalid_field")
    if max_len is not None and len(value) > max_len:
        raise bad_request(f"{name} is longer than {max_len} characters", field=name, code="invalid_field")
    return value


def _str_list_field(body: dict[str, Any], name: str, *, max_items: int, max_len: int, required: bool = False) -> list[str]:
    if name not in body or body[name] is None:
        if required:
            raise _missing(name)
        return []
    value = body[name]
    if not isinstance(value, list):
        raise _type_error(name, "a list of strings", value)
    if len(value) > max_items:
        raise bad_request(f"{name} has {len(value)} entries; at most {max_items} are allowed", field=name,
                          code="invalid_field")
    for i, v in enumerate(value):
        if not isinstance(v, str):
            got = "null" if v is None else type(v).__name__
            raise bad_request(f"{name}[{i}] must be a string, got {got}", field=name, code="invalid_field")
        if len(v) > max_len:
            raise bad_request(f"{name}[{i}] is longer than {max_len} characters", field=name, code="invalid_field")
    return list(value)


def _parse_time(value: str, name: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise bad_request(f"{name} must be an ISO 8601 timestamp", field=name, code="invalid_field") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def query_one(req: Request, name: str) -> str | None:
    """The first value of a query parameter (None when absent)."""
    values = req.query.get(name)
    return values[0] if values else None


# ------------------------------------------------------------------------------------------- API
class SandboxAPI:
    def __init__(self, world: World, state: SandboxState, clock: SimClock):
        self.world = world
        self.config = world.config
        self.state = state
        self.clock = clock
        self._api_keys = tuple(k.encode("utf-8", "surrogateescape") for k in self.config.api_keys)
        self._truth_token = self.config.truth_token.encode("utf-8", "surrogateescape")
        self.max_upload_bytes = int(self.config.max_upload_bytes)
        self._trajectories: dict[str, Trajectory] = {}
        self._traj_lock = threading.Lock()
        self._processing_until: dict[str, float] = {}  # post_id -> time.monotonic() when processing ends
        self._routes: list[_Route] = []
        add = self._add
        add(r"/v1/health", GET=(self.health, NO_AUTH))
        add(r"/v1/clock", GET=(self.get_clock, NO_AUTH))
        add(r"/v1/clock/advance", POST=(self.advance_clock, NO_AUTH))
        add(r"/v1/trending", GET=(self.trending, API_KEY))
        add(r"/v1/ads/library", GET=(self.ads_library, API_KEY))
        add(r"/v1/media", POST=(self.upload_media, API_KEY))
        add(r"/v1/media/(?P<media_id>[^/]+)", GET=(self.get_media, API_KEY))
        add(r"/v1/posts", POST=(self.create_post, API_KEY), GET=(self.find_posts, API_KEY))
        add(r"/v1/posts/(?P<post_id>[^/]+)", GET=(self.get_post, API_KEY))
        add(r"/v1/posts/(?P<post_id>[^/]+)/metrics", GET=(self.post_metrics, API_KEY))
        add(r"/v1/metrics/batch", POST=(self.metrics_batch, API_KEY))
        add(r"/v1/_truth/posts", GET=(self.truth_posts, TRUTH))
        add(r"/v1/_truth/descriptors", GET=(self.truth_descriptors, TRUTH))
        add(r"/v1/_truth/market", GET=(self.truth_market, TRUTH))
        from .ads import AdsAPI  # here: ads.py builds on this module

        self.ads = AdsAPI(self)  # the Meta Marketing (Graph) API shaped ads API, see ads.py
        graph, account = r"/graph/v\d+\.\d+", r"act_(?P<account>[A-Za-z0-9_-]{1,64})"
        add(graph + "/" + account + r"/(?P<edge>campaigns|adsets|ads)",
            GET=(self.ads.list_objects, API_KEY), POST=(self.ads.create_object, API_KEY))
        add(graph + "/" + account + r"/insights", GET=(self.ads.insights, API_KEY))
        add(graph + r"/(?P<object_id>[^/]+)/copies", POST=(self.ads.copy_adset, API_KEY))
        add(graph + r"/(?P<object_id>[^/]+)",
            GET=(self.ads.get_object, API_KEY), POST=(self.ads.update_object, API_KEY))
        add(r"/graph/.*", GET=(self.ads.unknown_path, API_KEY), POST=(self.ads.unknown_path, API_KEY))
        add(r"/v1/_truth/ads", GET=(self.ads.truth, TRUTH))
        from .web import WebSite  # here: web.py builds on this module

        self.web = WebSite(self)
        for pattern, methods in self.web.routes().items():
            add(pattern, **{m: (h, NO_AUTH) for m, h in methods.items()})  # the site checks its own session

    def _add(self, pattern: str, **methods: tuple[Callable[..., Response], str]) -> None:
        self._routes.append(_Route(re.compile("^" + pattern + "$"), methods))

    # --------------------------------------------------------------------------------- dispatch
    def handle(self, req: Request) -> Response:
        path = req.path.rstrip("/") or "/"
        if path == "/web" or path.startswith("/web/"):
            try:
                return self._route(req, path)
            except ApiError as exc:  # the web site answers in HTML, errors included
                return self.web.error_page(exc)
        return self._route(req, path)

    def _route(self, req: Request, path: str) -> Response:
        for route in self._routes:
            m = route.pattern.match(path)
            if m is None:
                continue
            if req.method not in route.methods:
                allowed = ", ".join(sorted(route.methods))
                raise ApiError(405, "method_not_allowed", f"{req.method} is not allowed on {path}; use {allowed}",
                               headers={"Allow": allowed})
            handler, auth = route.methods[req.method]
            if auth == API_KEY:
                self._check_api_key(req)
            elif auth == TRUTH:
                self._check_truth(req)
            return handler(req, **m.groupdict())
        raise not_found(f"no route for {req.method} {path}", code="unknown_route")

    def _check_api_key(self, req: Request) -> None:
        header = req.headers.get("Authorization") or ""
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        challenge = {"WWW-Authenticate": 'Bearer realm="actp-sandbox"'}
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "missing bearer token (Authorization: Bearer <key>)", headers=challenge)
        presented = token.encode("utf-8", "surrogateescape")
        if not any(hmac.compare_digest(presented, k) for k in self._api_keys):
            raise ApiError(401, "unauthorized", "invalid API key", headers=challenge)

    def _check_truth(self, req: Request) -> None:
        token = (req.headers.get("X-Truth-Token") or "").strip().encode("utf-8", "surrogateescape")
        if not token or not hmac.compare_digest(token, self._truth_token):
            raise ApiError(403, "forbidden", "the ground truth needs a valid X-Truth-Token header")

    # ------------------------------------------------------------------------------------ clock
    def health(self, req: Request) -> Response:
        return Response(200, {"ok": True, "now": iso(self.clock.now())})

    def get_clock(self, req: Request) -> Response:
        return Response(200, {"now": iso(self.clock.now()), "speed": self.clock.speed})

    def advance_clock(self, req: Request) -> Response:
        body = _parse_json_body(req)
        if "hours" not in body:
            raise _missing("hours")
        hours = body["hours"]
        if isinstance(hours, bool) or not isinstance(hours, (int, float)):
            raise _type_error("hours", "a number", hours)
        if not math.isfinite(hours) or hours < 0 or hours > MAX_ADVANCE_HOURS:
            raise bad_request(f"hours must be between 0 and {MAX_ADVANCE_HOURS}", field="hours", code="invalid_field")
        return Response(200, {"now": iso(self.clock.advance(float(hours)))})

    # ----------------------------------------------------------------------------------- market
    def _date_param(self, req: Request) -> str:
        raw = query_one(req, "date")
        if raw is None:
            raise _missing("date")
        try:
            if not _DATE_RE.match(raw):
                raise ValueError
            day = date.fromisoformat(raw)
        except ValueError:
            raise bad_request("date must be a calendar date YYYY-MM-DD", field="date", code="invalid_field") from None
        if not 1970 <= day.year <= 2100:
            raise bad_request("date must be between 1970 and 2100", field="date", code="invalid_field")
        return day.isoformat()

    def _platform_param(self, req: Request, required: bool) -> str | None:
        raw = query_one(req, "platform")
        if raw is None or raw == "":
            if required:
                raise _missing("platform")
            return None
        if raw not in self.config.platforms:
            raise bad_request(f"unknown platform {raw!r}; one of {', '.join(self.config.platforms)}",
                              field="platform", code="unknown_platform")
        return raw

    @staticmethod
    def _limit_param(req: Request) -> int:
        raw = query_one(req, "limit")
        if raw is None or raw == "":
            return DEFAULT_PAGE
        try:
            limit = int(raw)
        except ValueError:
            raise bad_request("limit must be an integer", field="limit", code="invalid_field") from None
        if limit < 1:
            raise bad_request("limit must be at least 1", field="limit", code="invalid_field")
        return min(limit, MAX_PAGE)

    @staticmethod
    def _page(req: Request, items: list[Any], scope: str) -> Response:
        limit = SandboxAPI._limit_param(req)
        scope_tag = hashlib.sha256(scope.encode()).hexdigest()[:12]
        cursor = query_one(req, "cursor")
        offset = 0
        if cursor:
            try:
                padded = cursor + "=" * (-len(cursor) % 4)
                decoded = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
                offset = int(decoded["o"])
                if decoded["s"] != scope_tag or offset < 0:
                    raise ValueError
            except (ValueError, KeyError, TypeError, UnicodeEncodeError):
                raise bad_request("cursor is not a cursor of this listing", field="cursor", code="invalid_cursor") from None
        page = items[offset : offset + limit]
        nxt = None
        if offset + limit < len(items):
            token = json.dumps({"s": scope_tag, "o": offset + limit}, separators=(",", ":")).encode()
            nxt = base64.urlsafe_b64encode(token).decode("ascii").rstrip("=")
        return Response(200, {"items": page, "next_cursor": nxt})

    def _market_records(self, kind: str, day: str, platform: str | None) -> list[MarketRecord]:
        """What a market listing serves, in its order: the day's competitor posts (kind "post") or ad
        library items ("ad"), of one platform or all. /v1/_truth/market indexes this same list."""
        if kind == "ad":
            return [r for r in self.world.ad_records(day) if platform is None or r.item.get("platform") == platform]
        platforms = [platform] if platform else list(self.config.platforms)
        return [r for p in platforms for r in self.world.market_records(day, p)]

    def _market_listing(self, req: Request, kind: str, scope: str) -> Response:
        day = self._date_param(req)
        platform = self._platform_param(req, required=False)
        # the cached records' items as they are: the response is only JSON-encoded, never changed
        items = [r.item for r in self._market_records(kind, day, platform)]
        return self._page(req, items, f"{scope}|{day}|{platform or '*'}")

    def trending(self, req: Request) -> Response:
        return self._market_listing(req, "post", "trending")

    def ads_library(self, req: Request) -> Response:
        return self._market_listing(req, "ad", "ads")

    # ------------------------------------------------------------------------------------ media
    def upload_media(self, req: Request) -> Response:
        ctype = forms.media_type(req.headers.get("Content-Type"))
        if ctype and not (ctype.startswith("video/") or ctype == "application/octet-stream"):
            raise ApiError(415, "unsupported_media", f"Content-Type must be video/mp4, got {ctype!r}",
                           field="Content-Type")
        stored = self.store_media(lambda tmp: req.body.copy_to(tmp, self.max_upload_bytes))
        return Response(201, self._public_media(stored), {"Location": f"/v1/media/{stored['media_id']}"})

    def store_media(self, write: Callable[[BinaryIO], tuple[int, str]], *, what: str = "body",
                    before_probe: Callable[[], None] | None = None) -> dict[str, Any]:
        """Receive one video and keep it: the one media code path of /v1/media and the web upload form.

        `write(tmp)` streams the video into a temporary file and returns (size, sha256); `before_probe`
        may reject the request before the video is decoded; `what` names the video in errors.
        """
        media_dir = self.state.media_dir
        fd, tmp_name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=str(media_dir) if media_dir else None)
        try:
            with os.fdopen(fd, "wb") as tmp:
                size, sha = write(tmp)
            if before_probe is not None:
                before_probe()
            if size == 0:
                raise bad_request(f"the {what} is empty; send the MP4 bytes", field=what, code="empty_body")
            info = media_probe.probe(tmp_name, what)
            media_id = "m_" + sha[:20]
            path = None
            if media_dir is not None:
                final = Path(media_dir) / f"{media_id}.mp4"
                os.replace(tmp_name, final)
                path = str(final)
            record = {
                "media_id": media_id,
                "sha256": sha,
                "bytes": size,
                "path": path,
                "created_at": iso(self.clock.now()),
                **info,
            }
            return self.state.put_media(record)
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)

    @staticmethod
    def _public_media(m: dict[str, Any]) -> dict[str, Any]:
        return {
            "media_id": m["media_id"],
            "bytes": m["bytes"],
            "sha256": m["sha256"],
            "duration_s": m["duration_s"],
            "width": m["width"],
            "height": m["height"],
            "descriptor": m["descriptor"],
            "created_at": m["created_at"],
        }

    def get_media(self, req: Request, media_id: str) -> Response:
        m = self.state.get_media(media_id)
        if m is None:
            raise not_found(f"unknown media {media_id!r}", field="media_id", code="unknown_media")
        return Response(200, self._public_media(m))

    # ------------------------------------------------------------------------------------ posts
    def create_post(self, req: Request) -> Response:
        values = self.post_fields(_parse_json_body(req))
        stored, created = self.store_post(values)
        headers = {"Location": f"/v1/posts/{stored['post_id']}"}
        if not created:
            headers["Idempotent-Replay"] = "true"
        return Response(201 if created else 200, self.public_post(stored, self.clock.now()), headers)

    def post_fields(self, body: dict[str, Any], *, with_media: bool = True) -> dict[str, Any]:
        """The validated fields of a new post (ApiError 400/404 naming the field); media_id only if with_media."""
        key = _str_field(body, "idempotency_key", max_len=MAX_IDEMPOTENCY_KEY)
        media_id = _str_field(body, "media_id") if with_media else None
        platform = _str_field(body, "platform")
        account = _str_field(body, "account")
        caption = _str_field(body, "caption", required=False, max_len=MAX_CAPTION, allow_empty=True, default="")
        hashtags = _str_list_field(body, "hashtags", max_items=MAX_HASHTAGS, max_len=MAX_HASHTAG_LEN)
        scheduled_raw = _str_field(body, "scheduled_at", required=False)
        scheduled_at = _parse_time(scheduled_raw, "scheduled_at") if scheduled_raw is not None else None
        if platform not in self.config.platforms:
            raise bad_request(f"unknown platform {platform!r}; one of {', '.join(self.config.platforms)}",
                              field="platform", code="unknown_platform")
        if account not in self.config.accounts.get(platform, []):
            raise not_found(f"no account {account!r} on {platform}", field="account", code="unknown_account")
        return {"idempotency_key": key, "media_id": media_id, "platform": platform, "account": account,
                "caption": caption, "hashtags": hashtags, "scheduled_at": scheduled_at}

    def store_post(self, values: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create the post of validated `values` once per idempotency key: the one post code path of
        /v1/posts and the web upload form. Returns (stored post, created); a replay counts a create call."""
        media_id, key = values["media_id"], values["idempotency_key"]
        if self.state.get_media(media_id) is None:
            raise not_found(f"unknown media {media_id!r}; upload it with POST /v1/media first", field="media_id",
                            code="unknown_media")
        platform, account, scheduled_at = values["platform"], values["account"], values["scheduled_at"]
        now = self.clock.now()
        live_at = max(scheduled_at, now) if scheduled_at is not None else now
        post_id = "p_" + derive_hex(self.config.seed, "post_id", key, length=16)
        record = {
            "post_id": post_id,
            "idempotency_key": key,
            "media_id": media_id,
            "platform": platform,
            "account": account,
            "caption": values["caption"],
            "hashtags": values["hashtags"],
            "scheduled_at": iso(scheduled_at) if scheduled_at is not None else None,
            "live_at": iso(live_at),
            "created_at": iso(now),
            "url": POST_URL.format(platform=platform, account=account, post_id=post_id),
        }
        stored, created = self.state.create_post(record)
        if created and self.config.processing_s > 0:
            self._processing_until[stored["post_id"]] = time.monotonic() + self.config.processing_s
        return stored, created

    @staticmethod
    def status_of(post: dict[str, Any], now: datetime) -> str:
        return "live" if _parse_time(post["live_at"], "live_at") <= now else "scheduled"

    def public_post(self, post: dict[str, Any], now: datetime) -> dict[str, Any]:
        processing = time.monotonic() < self._processing_until.get(post["post_id"], 0.0)
        return {
            "post_id": post["post_id"],
            "url": post["url"],
            "status": "processing" if processing else self.status_of(post, now),
            "live_at": post["live_at"],
            "scheduled_at": post["scheduled_at"],
            "created_at": post["created_at"],
            "platform": post["platform"],
            "account": post["account"],
            "idempotency_key": post["idempotency_key"],
            "media_id": post["media_id"],
            "caption": post["caption"],
            "hashtags": post["hashtags"],
        }

    def require_post(self, post_id: str) -> dict[str, Any]:
        post = self.state.get_post(post_id)
        if post is None:
            raise not_found(f"unknown post {post_id!r}", field="post_id", code="unknown_post")
        return post

    def get_post(self, req: Request, post_id: str) -> Response:
        return Response(200, self.public_post(self.require_post(post_id), self.clock.now()))

    def find_posts(self, req: Request) -> Response:
        key = query_one(req, "idempotency_key")
        if key is None or key == "":
            raise _missing("idempotency_key")
        post = self.state.get_post_by_key(key)
        now = self.clock.now()
        return Response(200, {"items": [self.public_post(post, now)] if post else []})

    # ---------------------------------------------------------------------------------- metrics
    def trajectory_of(self, post: dict[str, Any]) -> Trajectory:
        traj = self._trajectories.get(post["post_id"])
        if traj is None:
            m = self.state.get_media(post["media_id"]) or {}
            traj = self.world.trajectory(
                post["post_id"], post["platform"], post["account"], _parse_time(post["live_at"], "live_at"),
                m.get("descriptor"), m.get("duration_s"),
            )
            with self._traj_lock:
                self._trajectories[post["post_id"]] = traj
        return traj

    def _metrics(self, post: dict[str, Any], now: datetime) -> dict[str, Any]:
        counts = self.trajectory_of(post).counts_at(now)
        out: dict[str, Any] = {"post_id": post["post_id"], "as_of": iso(now), "status": self.status_of(post, now)}
        for name in ("views", "likes", "comments", "shares", "saves"):
            out[name] = counts[name]
        out["watch_time_s"] = counts["watch_time_s"]
        out["followers_gained"] = counts["followers_gained"]
        return out

    def post_metrics(self, req: Request, post_id: str) -> Response:
        post = self.require_post(post_id)
        return Response(200, self._metrics(post, self.clock.now()))

    def metrics_batch(self, req: Request) -> Response:
        body = _parse_json_body(req)
        if "post_ids" not in body:
            raise _missing("post_ids")
        ids = body["post_ids"]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise _type_error("post_ids", "a list of strings", ids)
        if len(ids) > MAX_BATCH:
            raise bad_request(f"post_ids has {len(ids)} entries; at most {MAX_BATCH} per call", field="post_ids",
                              code="invalid_field")
        unique = list(dict.fromkeys(ids))
        found = self.state.get_posts(unique)
        now = self.clock.now()
        items = [self._metrics(found[i], now) for i in unique if i in found]
        unknown = [i for i in unique if i not in found]
        return Response(200, {"as_of": iso(now), "items": items, "unknown": unknown})

    # ------------------------------------------------------------------------------------ truth
    def truth_posts(self, req: Request) -> Response:
        items = []
        for post in self.state.list_posts():
            m = self.state.get_media(post["media_id"]) or {}
            app = self.world.true_appeal(m.get("descriptor"), None, m.get("duration_s"))
            traj = self.trajectory_of(post)
            items.append({
                "post_id": post["post_id"],
                "idempotency_key": post["idempotency_key"],
                "variant_id": app["variant_id"],
                "platform": post["platform"],
                "account": post["account"],
                "live_at": post["live_at"],
                # the creative's rate (platform-neutral, the same for every post of a variant, as in
                # /v1/_truth/descriptors); what this post's audience engages at is platform_true_er
                "true_er": app["true_er"],
                "platform_true_er": traj.true_er,
                "expected_views": traj.expected_views,
                "final_views": traj.final["views"],
                "tau_h": traj.tau_h,
                "create_calls": post["create_calls"],
            })
        return Response(200, {"items": items, **self.world.truth_summary()})

    def truth_descriptors(self, req: Request) -> Response:
        groups: dict[str, dict[str, Any]] = {}
        for post in self.state.list_posts():
            m = self.state.get_media(post["media_id"]) or {}
            desc = m.get("descriptor")
            app = self.world.true_appeal(desc, None, m.get("duration_s"))
            key = app["variant_id"] or (f"hook:{app['hook']}" if app["hook"] else f"media:{post['media_id']}")
            g = groups.get(key)
            if g is None:
                g = groups[key] = {
                    "variant_id": app["variant_id"],
                    "descriptor": desc,
                    "factors": app["factors"],
                    "true_er": app["true_er"],
                    "reach_multiplier": app["reach_multiplier"],
                    "completion": app["completion"],
                    "creative_effect": app["creative_effect"],
                    "posts": 0,
                    "post_ids": [],
                    "platforms": [],
                }
            g["posts"] += 1
            g["post_ids"].append(post["post_id"])
            if post["platform"] not in g["platforms"]:
                g["platforms"].append(post["platform"])
        ranked = sorted(groups.items(), key=lambda kv: (-kv[1]["true_er"], kv[0]))
        items = [{"rank": n, **g} for n, (_, g) in enumerate(ranked, start=1)]
        return Response(200, {"items": items, "factor_effects": self.world.factor_effects})

    def truth_market(self, req: Request) -> Response:
        day = self._date_param(req)
        kind = query_one(req, "kind") or "post"
        if kind not in ("post", "ad"):
            raise bad_request("kind must be 'post' or 'ad'", field="kind", code="invalid_field")
        platform = self._platform_param(req, required=False)
        records = self._market_records(kind, day, platform)
        return Response(200, {"items": [r.truth(i) for i, r in enumerate(records)]})
