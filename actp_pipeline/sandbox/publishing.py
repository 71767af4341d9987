"""What the sandbox's posting platform does, apart from HTTP: keep uploaded videos, create each post once
per idempotency key, and tell each post's status, metrics and (for evaluation code) ground truth.

Every dialect that posts (TikTok, YouTube, Instagram, the aggregator), the web upload sites (routes/web.py,
routes/web_studio.py) and the ground truth (routes/truth.py) share these code paths, so a post made through
a browser is the same post each platform's API sees.
"""

from __future__ import annotations

import os
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from . import clock as real_time
from . import media as media_probe
from .clock import SimClock, iso
from .errors import bad_request, not_found
from .seeding import derive_hex
from .state import SandboxState
from .validation import missing, parse_time, str_field, str_list_field
from .world import Trajectory, World

MAX_IDEMPOTENCY_KEY = 200
MAX_CAPTION = 5000
MAX_HASHTAGS = 60
MAX_HASHTAG_LEN = 100
POST_URL = "https://sandbox.actp.local/{platform}/@{account}/video/{post_id}"
COUNTS = ("views", "likes", "comments", "shares", "saves")
PUBLIC_POST = ("post_id", "url", "status", "live_at", "scheduled_at", "created_at", "platform", "account",
               "idempotency_key", "media_id", "caption", "hashtags")


class Publishing:
    """Media, posts and metrics of one sandbox (its world, state and clock)."""

    def __init__(self, world: World, state: SandboxState, clock: SimClock):
        self.world = world
        self.config = world.config
        self.state = state
        self.clock = clock
        self._trajectories: dict[str, Trajectory] = {}
        self._traj_lock = threading.Lock()
        self._processing_until: dict[str, float] = {}  # post_id -> real monotonic seconds when processing ends

    # ------------------------------------------------------------------------------------ media
    def media_tempfile(self) -> Path:
        """A new empty file for an upload in progress (next to the kept media, so keeping it is a rename)."""
        media_dir = self.state.media_dir
        fd, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=str(media_dir) if media_dir else None)
        os.close(fd)
        return Path(name)

    def keep_media(self, tmp: Path, size: int, sha256: str, what: str = "body") -> dict[str, Any]:
        """Decode the uploaded video in `tmp` and keep it: the one media code path of every dialect's upload
        and the web upload forms. `what` names the video in errors. The caller removes `tmp` if it is still there."""
        if size == 0:
            raise bad_request(f"the {what} is empty; send the MP4 bytes", field=what, code="empty_body")
        info = media_probe.probe(tmp, what)
        media_id = "m_" + sha256[:20]
        path = None
        if self.state.media_dir is not None:
            final = Path(self.state.media_dir) / f"{media_id}.mp4"
            os.replace(tmp, final)
            path = str(final)
        record = {"media_id": media_id, "sha256": sha256, "bytes": size, "path": path,
                  "created_at": iso(self.clock.now()), **info}
        return self.state.put_media(record)

    # ------------------------------------------------------------------------------------ posts
    def post_fields(self, body: dict[str, Any], *, with_media: bool = True) -> dict[str, Any]:
        """The validated fields of a new post (ApiError 400/404 naming the field); media_id only if with_media."""
        key = str_field(body, "idempotency_key", max_len=MAX_IDEMPOTENCY_KEY)
        media_id = str_field(body, "media_id") if with_media else None
        platform = str_field(body, "platform")
        account = str_field(body, "account")
        caption = str_field(body, "caption", required=False, max_len=MAX_CAPTION, allow_empty=True, default="")
        hashtags = str_list_field(body, "hashtags", max_items=MAX_HASHTAGS, max_len=MAX_HASHTAG_LEN)
        scheduled_raw = str_field(body, "scheduled_at", required=False)
        scheduled_at = parse_time(scheduled_raw, "scheduled_at") if scheduled_raw is not None else None
        if platform not in self.config.platforms:
            raise bad_request(f"unknown platform {platform!r}; one of {', '.join(self.config.platforms)}",
                              field="platform", code="unknown_platform")
        if account not in self.config.accounts.get(platform, []):
            raise not_found(f"no account {account!r} on {platform}", field="account", code="unknown_account")
        return {"idempotency_key": key, "media_id": media_id, "platform": platform, "account": account,
                "caption": caption, "hashtags": hashtags, "scheduled_at": scheduled_at}

    def post_id_for(self, idempotency_key: str) -> str:
        """The id a post made with this key gets (seeded: the same key, the same id, on every run)."""
        return "p_" + derive_hex(self.config.seed, "post_id", idempotency_key, length=16)

    def store_post(self, values: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create the post of validated `values` once per idempotency key: the one post code path of
        every dialect and the web upload forms. Returns (stored post, created); a replay counts a create call."""
        media_id, key = values["media_id"], values["idempotency_key"]
        if self.state.get_media(media_id) is None:
            raise not_found(f"unknown media {media_id!r}; upload the video first", field="media_id",
                            code="unknown_media")
        platform, account, scheduled_at = values["platform"], values["account"], values["scheduled_at"]
        now = self.clock.now()
        live_at = max(scheduled_at, now) if scheduled_at is not None else now
        post_id = self.post_id_for(key)
        record = {
            "post_id": post_id, "idempotency_key": key, "media_id": media_id, "platform": platform,
            "account": account, "caption": values["caption"], "hashtags": values["hashtags"],
            "scheduled_at": iso(scheduled_at) if scheduled_at is not None else None,
            "live_at": iso(live_at), "created_at": iso(now),
            "url": POST_URL.format(platform=platform, account=account, post_id=post_id),
        }
        stored, created = self.state.create_post(record)
        if created and self.config.processing_s > 0:
            self._processing_until[stored["post_id"]] = real_time.monotonic() + self.config.processing_s
        return stored, created

    @staticmethod
    def status_of(post: dict[str, Any], now: datetime) -> str:
        return "live" if parse_time(post["live_at"], "live_at") <= now else "scheduled"

    def public_post(self, post: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
        now = now if now is not None else self.clock.now()
        until = self._processing_until.get(post["post_id"])
        processing = until is not None and real_time.monotonic() < until
        out = {k: post[k] for k in PUBLIC_POST if k != "status"}
        out["status"] = "processing" if processing else self.status_of(post, now)
        return {k: out[k] for k in PUBLIC_POST}

    def require_post(self, post_id: str) -> dict[str, Any]:
        post = self.state.get_post(post_id)
        if post is None:
            raise not_found(f"unknown post {post_id!r}", field="post_id", code="unknown_post")
        return post

    # ---------------------------------------------------------------------------------- metrics
    def trajectory_of(self, post: dict[str, Any]) -> Trajectory:
        traj = self._trajectories.get(post["post_id"])
        if traj is None:
            m = self.state.get_media(post["media_id"]) or {}
            traj = self.world.trajectory(
                post["post_id"], post["platform"], post["account"], parse_time(post["live_at"], "live_at"),
                m.get("descriptor"), m.get("duration_s"),
            )
            with self._traj_lock:
                self._trajectories[post["post_id"]] = traj
        return traj

    def metrics(self, post: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
        now = now if now is not None else self.clock.now()
        counts = self.trajectory_of(post).counts_at(now)
        out: dict[str, Any] = {"post_id": post["post_id"], "as_of": iso(now), "status": self.status_of(post, now)}
        for name in COUNTS:
            out[name] = counts[name]
        out["watch_time_s"] = counts["watch_time_s"]
        out["followers_gained"] = counts["followers_gained"]
        return out

    # ------------------------------------------------------------------------------------ truth
    def truth_posts(self) -> dict[str, Any]:
        """Every post's true rates and expected reach, and the world's factor effects (evaluation only)."""
        items = []
        for post in self.state.list_posts():
            m = self.state.get_media(post["media_id"]) or {}
            app = self.world.true_appeal(m.get("descriptor"), None, m.get("duration_s"))
            traj = self.trajectory_of(post)
            items.append({
                "post_id": post["post_id"], "idempotency_key": post["idempotency_key"], "caption": post["caption"],
                "variant_id": app["variant_id"], "platform": post["platform"], "account": post["account"],
                "live_at": post["live_at"],
                # the creative's rate (platform-neutral, the same for every post of a variant, as in
                # /sandbox/truth/descriptors); what this post's audience engages at is platform_true_er
                "true_er": app["true_er"], "platform_true_er": traj.true_er,
                "expected_views": traj.expected_views, "final_views": traj.final["views"], "tau_h": traj.tau_h,
                "create_calls": post["create_calls"],
            })
        return {"items": items, **self.world.truth_summary()}

    def truth_metrics(self, post_id: str | None) -> dict[str, Any]:
        """One post's counts now as the world has them, whatever each dialect reports of them (evaluation only)."""
        if not post_id:
            raise missing("post_id")
        post = self.state.get_post(post_id)
        if post is None:
            raise not_found(f"unknown post {post_id!r}", field="post_id", code="unknown_post")
        return self.metrics(post)

    def truth_descriptors(self) -> dict[str, Any]:
        """The posted creatives ranked by their true engagement rate (evaluation only)."""
        groups: dict[str, dict[str, Any]] = {}
        for post in self.state.list_posts():
            m = self.state.get_media(post["media_id"]) or {}
            desc = m.get("descriptor")
            app = self.world.true_appeal(desc, None, m.get("duration_s"))
            key = app["variant_id"] or (f"hook:{app['hook']}" if app["hook"] else f"media:{post['media_id']}")
            g = groups.get(key)
            if g is None:
                g = groups[key] = {
                    "variant_id": app["variant_id"], "descriptor": desc, "factors": app["factors"],
                    "true_er": app["true_er"], "reach_multiplier": app["reach_multiplier"],
                    "completion": app["completion"], "creative_effect": app["creative_effect"],
                    "posts": 0, "post_ids": [], "platforms": [],
                }
            g["posts"] += 1
            g["post_ids"].append(post["post_id"])
            if post["platform"] not in g["platforms"]:
                g["platforms"].append(post["platform"])
        ranked = sorted(groups.items(), key=lambda kv: (-kv[1]["true_er"], kv[0]))
        items = [{"rank": n, **g} for n, (_, g) in enumerate(ranked, start=1)]
        return {"items": items, "factor_effects": self.world.factor_effects}
