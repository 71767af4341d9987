"""Instagram as a `Publisher`, on Meta's official SDK `facebook-business` (its Instagram Graph objects IGUser,
ShadowIGMediaBuilder = the IG container, IGMedia): Reels through a media container, the publishing limit
read at run time, the post's permalink, and its insights as metrics.

Pointing it at real Instagram
-----------------------------
    import os
    publisher = InstagramPublisher(
        access_token=os.environ["ACTP_INSTAGRAM_ACCESS_TOKEN"],   # an EnvVar (dagster.EnvVar in a resource),
        ig_user_id=os.environ["ACTP_INSTAGRAM_USER_ID"],          # never a file in git
        journal_path=data_dir / "instagram_containers.sqlite",   # container ids survive a restart
    )
or `InstagramPublisher.from_env()` (those two, optional ACTP_INSTAGRAM_GRAPH_URL and ACTP_INSTAGRAM_APP_SECRET,
which makes the SDK send appsecret_proof). The token is a Facebook User (or system user) access token of
"Instagram API with Facebook Login" with instagram_basic, instagram_content_publish,
pages_read_engagement and instagram_manage_insights; the IG user id is the professional account's id
(GET /<page-id>?fields=instagram_business_account). Refreshing the token is the caller's job; this class
never logs it. Against the sandbox: graph_url=sandbox.url + "/graph", the token one of its API keys,
ig_user_id from GET /me, clock=<the sandbox clock> (so the publishing window and `as_of` are simulated time).

The flow (Meta's "Content Publishing" guide and "Upload Video to Meta Servers")
------------------------------------------------------------------------------
1. `GET /{ig-user-id}/content_publishing_limit?fields=config,quota_usage`: the limit is read at run time,
   never assumed. Full: SendRefused(reason="rate_limit", wait_s) with wait_s = when the oldest post of the
   window leaves it (the timestamps of the user's newest media, `GET /{ig-user-id}/media`), nothing sent.
2. `POST /{ig-user-id}/media` media_type=REELS, upload_type=resumable, caption, share_to_feed -> container
   id and upload `uri`; the container id is written to the journal under ACTP's idempotency key at once.
3. `POST <uri>` (rupload.facebook.com/ig-api-upload/<container id>) with the MP4's bytes, headers
   `Authorization: OAuth <token>`, `offset`, `file_size`. Resumable upload, not video_url, because ACTP's
   renders are local files: video_url needs a public web server Meta can fetch from, the resumable
   upload sends the file itself, resumes at the offset after a broken connection (the headers say how far
   it got), and works unchanged against the sandbox, which fetches nothing from the web.
4. `GET /{container-id}?fields=status_code,status` every `poll_interval_s` until FINISHED; ERROR (with its
   status message) and EXPIRED are PlatformErrors, and the journal forgets that container.
5. `before_send()`, then `POST /{ig-user-id}/media_publish` creation_id -> the IG media id. This is the
   only request that makes something visible.
6. `GET /{ig-media-id}?fields=id,permalink,timestamp` -> post_id (the media id), url, live_at.

Not posting twice (Instagram has no idempotency key)
----------------------------------------------------
Two records, because each covers a case the other cannot:
1. The journal (SQLite at `journal_path`, in memory when None) holds the container id from step 2 on.
   `find_post` asks that container: PUBLISHED means the reel exists (its media id is in the journal, or
   found by step 2 below). A container that is FINISHED or IN_PROGRESS was not published: `publish` then
   publishes *that same container* instead of making a new one, so even a media_publish whose answer was
   lost and which did land cannot be repeated into a second reel (a container publishes at most once:
   Instagram refuses a second media_publish of it). ERROR/EXPIRED or unknown containers are forgotten.
2. The caption marker `ref:<10 hex of the key's SHA-256>` (turn off with key_in_caption=False; then the
   exact caption's hash stored in the journal is matched instead): `find_post` pages the user's media
   (`lookup_pages` pages of 50, newest first) for it when the journal has no answer (lost, another
   machine), and to learn the media id of a PUBLISHED container whose media_publish answer was lost.

Errors (FacebookRequestError -> publisher errors)
-------------------------------------------------
- media_publish code 9 / subcode 2207042 (the publishing limit): SendRefused(reason="rate_limit", wait_s).
- a timeout or a broken connection after media_publish was sent, or a 5xx answer to it: AmbiguousOutcome
  (find_post settles it). Before media_publish nothing is visible: such failures are retryable PlatformErrors.
- code 4, 17, 32, 613 (call rate limits) and is_transient answers: retryable PlatformError; 9007/2207027
  (not ready) is waited on; a bad token (190), a permission (10, 200) or a bad parameter (100): not retryable.

What is written by hand, and why
--------------------------------
The SDK has no call for the upload host (rupload), so step 3 is one `requests` POST (the library the SDK
itself runs on). Everything else goes through the SDK's objects with the API instance of this publisher
(`FacebookAdsApi(session, version)`, never the process-wide default), so two publishers with two tokens
do not share state. Metrics: `GET /{ig-media-id}/insights?metric=views,likes,comments,shares,saved,
total_interactions` (the Reels metrics of the current "Instagram Media Insights" reference; views replaced
plays and impressions in v22.0); a metric Instagram leaves out (it answers no data rather than 0 for
unavailable data) is None, never 0.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import requests
from facebook_business.adobjects.igmedia import IGMedia
from facebook_business.adobjects.iguser import IGUser
from facebook_business.adobjects.shadowigmediabuilder import ShadowIGMediaBuilder
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError
from facebook_business.session import FacebookSession

from actp_pipeline.publish.publisher import (
    AmbiguousOutcome,
    BeforeSend,
    PlatformError,
    SendRefused,
)

GRAPH_URL = "https://graph.facebook.com"
API_VERSION = "v21.0"
MAX_CAPTION = 2200
# the Reels metrics ACTP reads ("Instagram Media Insights" reference) and the names of its metrics dict
INSIGHT_METRICS = {"views": "views", "likes": "likes", "comments": "comments", "shares": "shares",
                   "saved": "saves", "total_interactions": "total_interactions"}
LIMIT_CODE, LIMIT_SUBCODE = 9, 2207042
NOT_READY_CODE, NOT_READY_SUBCODE = 9007, 2207027
RATE_CODES = (4, 17, 32, 613, 80002)
UNKNOWN_OBJECT_SUBCODE = 33
DEFAULT_WINDOW_S = 86_400.0


def key_marker(idempotency_key: str) -> str:
    """The reference appended to a caption so `find_post` can recognise the reel among the user's media."""
    return "ref:" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:10]


def caption_sha(caption: str) -> str:
    return hashlib.sha256(caption.encode("utf-8")).hexdigest()


def build_caption(caption: str, hashtags: list[str], marker: str | None) -> str:
    """Caption, the hashtags it does not carry yet (at most 30 in all), and the marker, cut to 2200
    characters with the caption giving way first."""
    have = {h.lower() for h in caption.split() if h.startswith("#")}
    tags = [f"#{h.lstrip('#')}" for h in hashtags if h.strip() and f"#{h.lstrip('#')}".lower() not in have]
    tags = tags[: max(0, 30 - len(have))]
    tail = " ".join(p for p in (" ".join(tags), marker or "") if p)
    room = MAX_CAPTION - (len(tail) + 1 if tail else 0)
    return " ".join(p for p in (caption.strip()[: max(room, 0)].strip(), tail) if p)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(t: dt.datetime) -> str:
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def graph_time(value: str | None) -> dt.datetime | None:
    """Graph's "2025-03-01T12:00:00+0000" as an aware datetime (None when absent or unreadable)."""
    if not value:
        return None
    try:
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None


class ContainerJournal:
    """ACTP idempotency key -> Instagram container id (its caption's hash, and its media id once known)."""

    def __init__(self, path: Path | str | None = None):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path) if path is not None else ":memory:", check_same_thread=False,
                                     isolation_level=None, timeout=30)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS instagram_containers (idempotency_key TEXT PRIMARY KEY, container_id "
                "TEXT NOT NULL, caption_sha TEXT NOT NULL, media_id TEXT, created_at TEXT NOT NULL)")

    def remember(self, key: str, container_id: str, caption: str, created_at: dt.datetime) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO instagram_containers VALUES (?,?,?,NULL,?) ON CONFLICT(idempotency_key) DO UPDATE SET "
                "container_id = excluded.container_id, caption_sha = excluded.caption_sha, media_id = NULL, "
                "created_at = excluded.created_at", (key, container_id, caption_sha(caption), _iso(created_at)))

    def recall(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT container_id, caption_sha, media_id, created_at FROM "
                                     "instagram_containers WHERE idempotency_key = ?", (key,)).fetchone()
        return dict(zip(("container_id", "caption_sha", "media_id", "created_at"), row)) if row else None

    def set_media(self, container_id: str, media_id: str) -> None:
        with self._lock:
            self._conn.execute("UPDATE instagram_containers SET media_id = ? WHERE container_id = ?",
                               (media_id, container_id))

    def forget(self, key: str, container_id: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM instagram_containers WHERE idempotency_key = ? AND container_id = ?",
                               (key, container_id))

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class InstagramPublisher:
    """Reels publishing, post lookup and metrics for one Instagram professional account (one IG user)."""

    platform = "instagram"

    def __init__(self, access_token: str, ig_user_id: str, *, account: str = "main", graph_url: str = GRAPH_URL,
                 api_version: str = API_VERSION, app_secret: str | None = None, timeout_s: float = 60.0,
                 upload_timeout_s: float = 600.0, poll_interval_s: float = 5.0, processing_timeout_s: float = 900.0,
                 upload_attempts: int = 3, journal: ContainerJournal | None = None,
                 journal_path: Path | str | None = None, key_in_caption: bool = True, lookup_pages: int = 4,
                 share_to_feed: bool = True, clock: Callable[[], dt.datetime] | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.account = account
        self.ig_user_id = str(ig_user_id)
        self._token = access_token
        self.upload_timeout_s = upload_timeout_s
        self.poll_interval_s = poll_interval_s
        self.processing_timeout_s = processing_timeout_s
        self.upload_attempts = max(1, upload_attempts)
        self.journal = journal if journal is not None else ContainerJournal(journal_path)
        self.key_in_caption = key_in_caption
        self.lookup_pages = lookup_pages
        self.share_to_feed = share_to_feed
        self._clock = clock or _utcnow
        self._sleep = sleep
        session = FacebookSession(access_token=access_token, app_secret=app_secret, timeout=timeout_s)
        session.GRAPH = graph_url.rstrip("/")
        self.api = FacebookAdsApi(session, api_version)
        self._upload_http = requests.Session()

    @classmethod
    def from_env(cls, **kw: Any) -> InstagramPublisher:
        token = os.environ.get("ACTP_INSTAGRAM_ACCESS_TOKEN")
        user = os.environ.get("ACTP_INSTAGRAM_USER_ID")
        if not token or not user:
            raise RuntimeError("set ACTP_INSTAGRAM_ACCESS_TOKEN (a token with instagram_content_publish) and "
                               "ACTP_INSTAGRAM_USER_ID (the Instagram professional account's id)")
        kw.setdefault("graph_url", os.environ.get("ACTP_INSTAGRAM_GRAPH_URL") or GRAPH_URL)
        kw.setdefault("app_secret", os.environ.get("ACTP_INSTAGRAM_APP_SECRET") or None)
        return cls(token, user, **kw)

    def close(self) -> None:
        self._upload_http.close()
        self.api._session.requests.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------ calls
    def _user(self) -> IGUser:
        return IGUser(self.ig_user_id, api=self.api)

    def _call(self, what: str, fn: Callable[[], Any], *, side_effect: bool = False) -> Any:
        """Run one SDK call; its failures as PlatformError (AmbiguousOutcome when `side_effect` may have landed)."""
        try:
            return fn()
        except FacebookRequestError as e:
            raise self._classify(what, e, side_effect) from e
        except (requests.ConnectionError, requests.Timeout) as e:
            never_sent = isinstance(e, requests.ConnectTimeout) or (
                isinstance(e, requests.ConnectionError) and "Connection refused" in str(e))
            if side_effect and not never_sent:
                raise AmbiguousOutcome(f"Instagram {what}: {type(e).__name__} after sending ({e}); the post may "
                                       "exist: look it up with find_post", retryable=True) from e
            raise PlatformError(f"Instagram {what}: {type(e).__name__} ({e})", retryable=True,
                                sent=not never_sent) from e
        except requests.RequestException as e:
            raise PlatformError(f"Instagram {what}: {type(e).__name__} ({e})", retryable=True) from e

    def _classify(self, what: str, e: FacebookRequestError, side_effect: bool) -> PlatformError:
        code, sub, status = e.api_error_code(), e.api_error_subcode(), e.http_status()
        text = f"Instagram {what} -> HTTP {status} code {code}/{sub}: {e.api_error_message()}"
        if code == LIMIT_CODE and sub == LIMIT_SUBCODE:
            wait = self._window_wait()
            return SendRefused(f"{text}; the publishing limit is reached, a slot frees in {wait:.0f} s",
                               reason="rate_limit", wait_s=wait)
        if side_effect and (status is None or status >= 500):
            return AmbiguousOutcome(f"{text}; the post may exist: look it up with find_post", status=status,
                                    retryable=True)
        retryable = bool(e.api_transient_error()) or code in RATE_CODES or code == NOT_READY_CODE or (
            status is not None and status >= 500)
        return PlatformError(text, status=status, retryable=retryable)

    # ---------------------------------------------------------------------------------- limits
    def publishing_limit(self) -> dict[str, Any]:
        """{"quota_usage", "quota_total", "quota_duration"} read from Instagram now."""
        rows = self._call("content_publishing_limit", lambda: self._user().get_content_publishing_limit(
            fields=["config", "quota_usage"]))
        row = rows[0].export_all_data() if len(rows) else {}
        config = row.get("config") or {}
        return {"quota_usage": int(row.get("quota_usage") or 0), "quota_total": config.get("quota_total"),
                "quota_duration": float(config.get("quota_duration") or DEFAULT_WINDOW_S)}

    def _window_wait(self, limit: dict[str, Any] | None = None) -> float:
        """Seconds until the oldest post of the rolling window leaves it (the window's length when unknown)."""
        try:
            limit = limit or self.publishing_limit()
            window = float(limit["quota_duration"])
            usage = int(limit["quota_usage"])
            page = self._call("media", lambda: self._user().get_media(fields=["id", "timestamp"],
                                                                      params={"limit": max(1, usage)}))
            now = self._clock()
            now = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
            stamps = [t for t in (graph_time(m.get("timestamp")) for m in list(page)[: max(1, usage)]) if t]
            inside = [t for t in stamps if (now - t).total_seconds() < window]
            if not inside:
                return window
            return max((min(inside) - now).total_seconds() + window + 1.0, 1.0)
        except PlatformError:
            return DEFAULT_WINDOW_S

    def _check_limit(self) -> None:
        limit = self.publishing_limit()
        total = limit["quota_total"]
        if total is not None and limit["quota_usage"] >= int(total):
            wait = self._window_wait(limit)
            raise SendRefused(f"Instagram publishing limit: {limit['quota_usage']} of {total} posts in the last "
                              f"{limit['quota_duration']:.0f} s; a slot frees in {wait:.0f} s; nothing was sent",
                              reason="rate_limit", wait_s=wait)

    # ------------------------------------------------------------------------------ publish
    def publish(self, *, media_path: Path, platform: str, account: str, caption: str, hashtags: list[str],
                scheduled_at: dt.datetime | None, idempotency_key: str,
                before_send: BeforeSend | None = None) -> dict[str, Any]:
        """Publish the reel once per idempotency key; returns post_id (the IG media id), url (permalink),
        live_at, status. `scheduled_at` is not supported by the Content Publishing API: the worker holds
        the job until then, so this publishes now."""
        if platform != "instagram" or account != self.account:
            raise PlatformError(f"this publisher posts to instagram/{self.account}, not {platform}/{account}",
                                sent=False)
        found = self.find_post(idempotency_key)
        if found is not None:
            return found
        text = build_caption(caption, hashtags, key_marker(idempotency_key) if self.key_in_caption else None)
        entry = self.journal.recall(idempotency_key)
        container_id = None
        if entry is not None:  # a container of an earlier attempt that was not published: publish that one
            state = self._container_status(entry["container_id"])
            if state in ("IN_PROGRESS", "FINISHED"):
                container_id = entry["container_id"]
            else:
                self.journal.forget(idempotency_key, entry["container_id"])
        self._check_limit()
        if container_id is None:
            container_id = self._create_container(media_path, text, idempotency_key)
        self._wait_finished(container_id, idempotency_key)
        if before_send is not None:
            before_send()  # the lease fence and rate-limit stamp, right before the post becomes visible
        published = self._call("media_publish", lambda: self._user().create_media_publish(
            params={"creation_id": container_id}), side_effect=True)
        media_id = str(published["id"])
        self.journal.set_media(container_id, media_id)
        return self._post(media_id, idempotency_key, container_id)

    def _create_container(self, media_path: Path, text: str, idempotency_key: str) -> str:
        created = self._call("media (create container)", lambda: self._user().create_media(params={
            "media_type": "REELS", "upload_type": "resumable", "caption": text,
            "share_to_feed": self.share_to_feed}))
        container_id, uri = str(created["id"]), created.get("uri")
        self.journal.remember(idempotency_key, container_id, text, self._clock())
        if not uri:
            raise PlatformError(f"Instagram gave container {container_id} no upload uri", retryable=True)
        self._upload(uri, Path(media_path), container_id)
        return container_id

    def _upload(self, uri: str, path: Path, container_id: str) -> None:
        """POST the file to the upload host, resuming at the offset the host reports after a failure."""
        size = path.stat().st_size
        offset = 0
        for attempt in range(1, self.upload_attempts + 1):
            try:
                with open(path, "rb") as fh:
                    fh.seek(offset)
                    resp = self._upload_http.post(uri, data=fh, timeout=self.upload_timeout_s, headers={
                        "Authorization": f"OAuth {self._token}", "offset": str(offset), "file_size": str(size),
                        "Content-Type": "application/octet-stream"})
            except requests.RequestException as e:
                if attempt >= self.upload_attempts:
                    raise PlatformError(f"Instagram upload of container {container_id}: {type(e).__name__} ({e}); "
                                        "nothing was published", retryable=True) from e
                offset = self._uploaded_bytes(container_id)
                self._sleep(min(2.0 ** attempt * 0.25, 8.0))
                continue
            if resp.status_code == 200:
                return
            retryable = resp.status_code >= 500 or resp.status_code == 429
            if not retryable or attempt >= self.upload_attempts:
                raise PlatformError(f"Instagram upload of container {container_id} -> HTTP {resp.status_code}: "
                                    f"{resp.text[:300]}", status=resp.status_code, retryable=retryable)
            offset = self._uploaded_bytes(container_id)
            self._sleep(min(2.0 ** attempt * 0.25, 8.0))

    def _uploaded_bytes(self, container_id: str) -> int:
        got = self._call("container status", lambda: ShadowIGMediaBuilder(container_id, api=self.api).api_get(
            fields=["video_status"]))
        phase = (got.get("video_status") or {}).get("uploading_phase") or {}
        return int(phase.get("bytes_transferred") or 0)

    def _container_status(self, container_id: str) -> str | None:
        """The container's status_code; None when Instagram does not know it."""
        try:
            got = self._call("container status", lambda: ShadowIGMediaBuilder(container_id, api=self.api).api_get(
                fields=["status_code", "status"]))
        except PlatformError as e:
            cause = e.__cause__
            if isinstance(cause, FacebookRequestError) and (
                    cause.api_error_subcode() == UNKNOWN_OBJECT_SUBCODE or cause.http_status() == 404):
                return None
            raise
        return got.get("status_code")

    def _wait_finished(self, container_id: str, idempotency_key: str) -> None:
        waited = 0.0
        while True:
            got = self._call("container status", lambda: ShadowIGMediaBuilder(container_id, api=self.api).api_get(
                fields=["status_code", "status"]))
            code = got.get("status_code")
            if code == "FINISHED":
                return
            if code in ("ERROR", "EXPIRED"):
                self.journal.forget(idempotency_key, container_id)
                raise PlatformError(f"Instagram container {container_id} is {code}: {got.get('status')}",
                                    retryable=code == "EXPIRED")
            if code == "PUBLISHED":  # published by an earlier attempt meanwhile
                raise AmbiguousOutcome(f"Instagram container {container_id} is already PUBLISHED: look the post "
                                       "up with find_post", retryable=True)
            if waited >= self.processing_timeout_s:
                raise PlatformError(f"Instagram container {container_id} still {code} after {waited:.0f} s; "
                                    "nothing was published", retryable=True)
            self._sleep(self.poll_interval_s)
            waited += self.poll_interval_s

    def _post(self, media_id: str, idempotency_key: str | None, container_id: str | None = None,
              media: dict[str, Any] | None = None) -> dict[str, Any]:
        if media is None or "permalink" not in media:
            media = self._call("media", lambda: IGMedia(media_id, api=self.api).api_get(
                fields=["id", "permalink", "timestamp", "media_type", "media_product_type"])).export_all_data()
        live = graph_time(media.get("timestamp"))
        return {"post_id": media_id, "url": media.get("permalink"), "live_at": _iso(live) if live else None,
                "status": "live", "platform": "instagram", "account": self.account,
                "idempotency_key": idempotency_key, "container_id": container_id}

    # ------------------------------------------------------------------------------- lookups
    def find_post(self, idempotency_key: str) -> dict[str, Any] | None:
        """The reel made for this key, or None when there is none and none can appear without a new
        media_publish (see the module docstring)."""
        entry = self.journal.recall(idempotency_key)
        if entry is not None:
            if entry["media_id"]:
                return self._post(entry["media_id"], idempotency_key, entry["container_id"])
            state = self._container_status(entry["container_id"])
            if state == "PUBLISHED":
                found = self._scan(idempotency_key, entry["caption_sha"])
                if found is None:
                    raise AmbiguousOutcome(f"Instagram container {entry['container_id']} is PUBLISHED but its "
                                           "media is not among the user's latest media", retryable=True)
                self.journal.set_media(entry["container_id"], found["post_id"])
                found["container_id"] = entry["container_id"]
                return found
            if state in ("IN_PROGRESS", "FINISHED"):
                return None  # not published; publish() publishes this very container
            self.journal.forget(idempotency_key, entry["container_id"])
        if self.key_in_caption:
            return self._scan(idempotency_key, None)
        return None

    def _scan(self, idempotency_key: str, sha: str | None) -> dict[str, Any] | None:
        marker = key_marker(idempotency_key)
        cursor = self._call("media", lambda: self._user().get_media(
            fields=["id", "caption", "permalink", "timestamp"], params={"limit": 50}))
        seen = 0
        try:
            for m in cursor:
                seen += 1
                text = m.get("caption") or ""
                if (self.key_in_caption and marker in text) or (sha is not None and caption_sha(text) == sha):
                    return self._post(str(m["id"]), idempotency_key, media=m.export_all_data())
                if seen >= self.lookup_pages * 50:
                    break
        except FacebookRequestError as e:
            raise self._classify("media (next page)", e, False) from e
        return None

    # ------------------------------------------------------------------------------- metrics
    def metrics(self, post_ids: list[str]) -> dict[str, Any]:
        """Per reel: views, likes, comments, shares, saves (None when Instagram reported no value, never 0)
        and status; {"as_of", "items", "unknown"} like the other adapters."""
        out: dict[str, Any] = {"as_of": _iso(self._clock()), "items": [], "unknown": []}
        for media_id in dict.fromkeys(post_ids):
            try:
                rows = self._call("insights", lambda mid=media_id: IGMedia(mid, api=self.api).get_insights(
                    params={"metric": list(INSIGHT_METRICS), "period": "lifetime"}))
            except PlatformError as e:
                cause = e.__cause__
                if isinstance(cause, FacebookRequestError) and (
                        cause.api_error_subcode() == UNKNOWN_OBJECT_SUBCODE or cause.http_status() == 404):
                    out["unknown"].append(media_id)
                    continue
                if isinstance(cause, FacebookRequestError) and cause.api_error_code() == 10:
                    rows = []  # "(#10) Not enough viewers for the media to show insights": unknown, not 0
                else:
                    raise
            values: dict[str, int | None] = {name: None for name in INSIGHT_METRICS.values()}
            for row in rows:
                name = INSIGHT_METRICS.get(row.get("name"))
                vals = row.get("values") or []
                if name is not None and vals and isinstance(vals[0], dict):
                    values[name] = _count(vals[0].get("value"))
            out["items"].append({"post_id": media_id, "status": "live", "views": values["views"],
                                 "likes": values["likes"], "comments": values["comments"],
                                 "shares": values["shares"], "saves": values["saves"],
                                 "total_interactions": values["total_interactions"]})
        return out


def _count(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
