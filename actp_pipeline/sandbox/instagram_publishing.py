"""Instagram's media_publish and content_publishing_limit: a FINISHED container becomes a sandbox post,
counted against the publishing limit. Apart from the containers (sandbox/instagram_containers.py) because
the limit's moving window and the publish errors are their own rules.

Differences from real Instagram (known ones) in publishing
----------------------------------------------------------
- The publishing limit is `InstagramPolicy.quota_total` (50) publishes per IG user in any
  `quota_duration` (86,400) simulated seconds, counted at media_publish; `since` older than the window is
  clamped to it. Over the limit: HTTP 400 code 9 subcode 2207042, is_transient false.
- Publishing an already PUBLISHED container answers code 9007 subcode 2207008 ("already published"),
  and a container in ERROR code 9007 subcode 2207032; the sandbox chose these (the error page does not
  say what Meta answers then). media_publish of an IN_PROGRESS container: 9007 / 2207027.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from .clock import SimClock
from .graph import GraphError, invalid, param_fields, param_id, unknown_object
from .instagram_policy import (
    _HASHTAG,
    CODE_LIMIT,
    CODE_NOT_READY,
    PLATFORM,
    SUB_ALREADY_PUBLISHED,
    SUB_CREATE_FAILED,
    SUB_EXPIRED,
    SUB_LIMIT,
    SUB_NOT_READY,
    InstagramPolicy,
)
from .publishing import Publishing


class InstagramPublishing:
    """The publish steps of InstagramGraph (a mixin: it uses the graph's publishing, state, clock, policy,
    _lock, _now_s, media_id and the containers' _container, _save and status_code)."""

    publishing: Publishing
    state: Any
    clock: SimClock
    policy: InstagramPolicy
    _lock: threading.RLock
    _now_s: Callable[[], float]
    media_id: Callable[..., str]
    _container: Callable[[str], dict[str, Any] | None]
    _save: Callable[[dict[str, Any]], None]
    status_code: Callable[..., str]

    def _published_times(self, user: str, since_s: float) -> list[float]:
        raw = self.state.get_meta(f"ig_publishes:{user}")
        return [t for t in (json.loads(raw) if raw else []) if t > since_s]

    def publish(self, user: str, account: str, params: Mapping[str, Any]) -> dict[str, Any]:
        cid = param_id(params, "creation_id", required=True)
        assert cid is not None
        with self._lock:
            c = self._container(cid)
            if c is None or c["user"] != user:
                raise unknown_object(cid, "Media container")
            code = self.status_code(c)
            if code == "PUBLISHED":
                raise GraphError("The media has already been published", code=CODE_NOT_READY,
                                 subcode=SUB_ALREADY_PUBLISHED)
            if code == "EXPIRED":
                raise GraphError("The media you are trying to access has expired. Please try to upload again.",
                                 code=-2, subcode=SUB_EXPIRED)
            if code == "ERROR":
                raise GraphError("Create media fail, please try to re-create media", code=CODE_NOT_READY,
                                 subcode=SUB_CREATE_FAILED)
            if code != "FINISHED":
                raise GraphError("Media ID is not available: the media is not ready for publishing, please wait "
                                 "for a moment", code=CODE_NOT_READY, subcode=SUB_NOT_READY)
            now_s = self._now_s()
            times = self._published_times(user, now_s - self.policy.quota_duration_s)
            if len(times) >= self.policy.quota_total:
                raise GraphError("Application request limit reached: you reached the maximum number of posts "
                                 f"that is allowed to be published by the API ({self.policy.quota_total} in 24 "
                                 "hours)", code=CODE_LIMIT, subcode=SUB_LIMIT,
                                 user_title="Maximum posts reached",
                                 user_msg="You reached maximum number of posts that is allowed to be published.")
            caption = c["caption"]
            values = {"idempotency_key": f"instagram:{cid}", "media_id": c["media_record"], "platform": PLATFORM,
                      "account": account, "caption": caption,
                      "hashtags": list(dict.fromkeys(_HASHTAG.findall(caption)))[:60],
                      "scheduled_at": self.clock.now()}
            post, _ = self.publishing.store_post(values)
            media_id = self.media_id(post["post_id"], account)
            self.state.set_meta(f"ig_publishes:{user}", json.dumps([*times, now_s]))
            c.update(state="published", media_id=media_id, published_s=now_s)
            self._save(c)
        return {"id": media_id}

    def publishing_limit(self, user: str, params: Mapping[str, Any]) -> dict[str, Any]:
        now_s = self._now_s()
        window_start = now_s - self.policy.quota_duration_s
        since = params.get("since")
        start = window_start
        if since not in (None, ""):
            try:
                start = max(window_start, float(since))
            except (TypeError, ValueError):
                raise invalid("since must be a Unix timestamp", field="since") from None
        row = {"quota_usage": len(self._published_times(user, start)),
               "config": {"quota_total": self.policy.quota_total, "quota_duration": self.policy.quota_duration_s}}
        fields = param_fields(params) or {"quota_usage"}  # "If omitted, the quota_usage field will be returned"
        return {"data": [{k: v for k, v in row.items() if k in fields}]}
