"""Posts made the way the pipeline makes them: through each platform's own dialect on a running sandbox.

The sandbox has no posting API of its own; a test that needs a published post (an ad promoting it, metrics to
read, a world to score) publishes it through the native adapters (publish/dialects.py) pointed at the
sandbox, and reads the sandbox's side of it from the ground truth (/sandbox/truth/posts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from actp_pipeline.publish.dialects import DialectPublisher
from actp_pipeline.publish.platforms import HttpPlatform, make_publisher
from actp_pipeline.settings import DIALECT_ENV, Settings


def dialect_settings(url: str, key: str, data_dir: Path, **kw: Any) -> Settings:
    """Settings that send every dialect to the sandbox at `url` with its key `key`."""
    url = url.rstrip("/")
    return Settings(data_dir=Path(data_dir), platform_url=url, platform_api_key=key,
                    dialect_tokens={p: key for p in DIALECT_ENV},
                    dialect_urls={p: url + ("/graph" if p == "instagram" else "") for p in DIALECT_ENV}, **kw)


def native(url: str, key: str, data_dir: Path, **kw: Any) -> DialectPublisher:
    """The native publisher (and metrics reader) against the sandbox at `url`, on the sandbox's clock."""
    client = HttpPlatform(url, key)
    return make_publisher("native", client, data_dir=Path(data_dir), settings=dialect_settings(url, key, data_dir, **kw))


def publish(url: str, key: str, media: Path, data_dir: Path, *, platform: str = "instagram", account: str = "main",
            idempotency_key: str = "test-post", caption: str | None = None, hashtags: list[str] | None = None,
            truth_token: str = "truth-for-tests") -> dict[str, Any]:
    """Publish `media` through `platform`'s dialect; returns the adapter's post (post_id is the platform's id)
    with `sandbox_post_id`, the sandbox's own id of the same post (what its truth and Graph's object_story_id
    name), found in the truth by the post's caption (unique per key unless `caption` is given)."""
    caption = caption if caption is not None else f"a test post {idempotency_key}"
    pub = native(url, key, data_dir)
    try:
        post = pub.publish(media_path=Path(media), platform=platform, account=account, caption=caption,
                           hashtags=list(hashtags or []), scheduled_at=None, idempotency_key=idempotency_key)
    finally:
        pub.close()
    mine = [p for p in truth_posts(url, truth_token) if p["platform"] == platform and caption in p["caption"]]
    assert len(mine) == 1, f"{len(mine)} {platform} posts in the sandbox's truth with the caption {caption!r}"
    return {**post, "sandbox_post_id": mine[0]["post_id"]}


def truth_posts(url: str, token: str = "truth-for-tests") -> list[dict[str, Any]]:
    resp = httpx.get(url.rstrip("/") + "/sandbox/truth/posts", headers={"X-Truth-Token": token}, timeout=30)
    resp.raise_for_status()
    return resp.json()["items"]


def truth_metrics(url: str, post_id: str, token: str = "truth-for-tests") -> dict[str, Any]:
    """The world's counts of the sandbox post `post_id` now (what a dialect's metrics should agree with)."""
    resp = httpx.get(url.rstrip("/") + "/sandbox/truth/metrics", params={"post_id": post_id},
                     headers={"X-Truth-Token": token}, timeout=30)
    resp.raise_for_status()
    return resp.json()


def record_post(engine, key: str, variant_id: str, post: dict[str, Any], now) -> None:
    """A published post in the posts ledger, as the publish worker records it (live now)."""
    from actp_pipeline.store import schema

    with engine.begin() as conn:
        conn.execute(schema.posts.insert().values(
            idempotency_key=key, variant_id=variant_id, platform="instagram", account="main",
            external_id=post["post_id"], url=post.get("url"), live_at=now, posted_at=now))


def advance_clock(sb: Any, hours: float):
    """Move the sandbox clock; its new time (the platform client caches the clock for a second)."""
    from actp_pipeline.publish.platforms import parse_time

    resp = httpx.post(f"{sb.url}/sandbox/clock/advance", json={"hours": hours})
    resp.raise_for_status()
    return parse_time(resp.json()["now"])
