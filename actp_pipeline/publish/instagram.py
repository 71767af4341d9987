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

What is written by hand, and why
--------------------------------
The SDK has no call for the upload host (rupload), so step 3 is one `requests` POST (the library the SDK
itself runs on). Everything else goes through the SDK's objects with the API instance of this publisher
(`FacebookAdsApi(session, version)`, never the process-wide default), so two publishers with two tokens
do not share state. Metrics: `GET /{ig-media-id}/insights?metric=views,likes,comments,shares,saved,
total_interactions` (the Reels metrics of the current "Instagram Media Insights" reference; views replaced
plays and impressions in v22.0); a metric Instagram leaves out (it answers no data rather than 0 for
unavailable data) is None, never 0.

The parts, one job each: instagram_api.py (the SDK calls, the publishing limit and the error mapping),
instagram_journal.py and instagram_lookup.py (not posting twice), instagram_metrics.py (insights). This
module is the adapter that runs the flow above through them.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import requests
from facebook_business.adobjects.shadowigmediabuilder import ShadowIGMediaBuilder
from facebook_business.api import FacebookAdsApi
from facebook_business.session import FacebookSession

from actp_pipeline.publish.instagram_api import (
    API_VERSION,
    DEFAULT_WINDOW_S,
    GRAPH_URL,
    LIMIT_CODE,
    LIMIT_SUBCODE,
    NOT_READY_CODE,
    NOT_READY_SUBCODE,
    RATE_CODES,
    UNKNOWN_OBJECT_SUBCODE,
    graph_time,
)
from actp_pipeline.publish.instagram_journal import ContainerJournal, caption_sha
from actp_pipeline.publish.instagram_lookup import InstagramLookup, key_marker
from actp_pipeline.publish.instagram_metrics import INSIGHT_METRICS, InstagramMetrics
from actp_pipeline.publish.publisher import (
    AmbiguousOutcome,
    BeforeSend,
    PlatformError,
)

__all__ = [
    "API_VERSION", "DEFAULT_WINDOW_S", "GRAPH_URL", "INSIGHT_METRICS", "LIMIT_CODE", "LIMIT_SUBCODE", "MAX_CAPTION",
    "NOT_READY_CODE", "NOT_READY_SUBCODE", "RATE_CODES", "UNKNOWN_OBJECT_SUBCODE", "ContainerJournal",
    "InstagramPublisher", "build_caption", "caption_sha", "graph_time", "key_marker",
]

MAX_CAPTION = 2200


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


class InstagramPublisher(InstagramLookup, InstagramMetrics):
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
