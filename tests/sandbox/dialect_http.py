"""Raw HTTP of the dialects the sandbox tests upload through (no adapter in between), for tests that need to
see the sandbox's own answers: TikTok's Direct Post (video/init, the FILE_UPLOAD PUT, status/fetch) and
Instagram's containers (the resumable upload, the container's status, media_publish).

A whole post made the pipeline's way is tests/sandbox_posts.py; this is for what an adapter would hide (a
refused upload's status, a replayed chunk, a second media_publish)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import httpx

from tests.media import make_mp4

G = "/graph/v21.0"
TIKTOK_INIT = "/v2/post/publish/video/init/"
TIKTOK_STATUS = "/v2/post/publish/status/fetch/"


def media_id_of(data: bytes) -> str:
    """The sandbox media id the bytes get when kept (Publishing.keep_media: m_ + 20 hex of their SHA-256)."""
    return "m_" + hashlib.sha256(data).hexdigest()[:20]


def reel(path: Path, comment: str | None = None, color: str = "black") -> Path:
    """An MP4 long enough for Instagram (Reels last at least 3 s)."""
    return make_mp4(path, comment, seconds=3.5, color=color)


# ------------------------------------------------------------------------------------------ TikTok
def tiktok(url: str, key: str, path: str, body: dict | None = None, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", **kw.pop("headers", {})}
    return httpx.post(url + path, json=body or {}, headers=headers, timeout=30, **kw)


def tiktok_init(url: str, key: str, size: int, title: str = "a raw post") -> httpx.Response:
    """video/init of a FILE_UPLOAD of `size` bytes sent whole (a video under 5 MB is one chunk)."""
    return tiktok(url, key, TIKTOK_INIT, {
        "post_info": {"title": title, "privacy_level": "SELF_ONLY"},
        "source_info": {"source": "FILE_UPLOAD", "video_size": size, "chunk_size": size, "total_chunk_count": 1}})


def tiktok_put(upload_url: str, data: bytes | Iterable[bytes], size: int,
               content_type: str = "video/mp4") -> httpx.Response:
    """The one chunk of a whole-file upload (`data` may be an iterable: sent chunked)."""
    return httpx.put(upload_url, content=data, timeout=60,
                     headers={"Content-Type": content_type, "Content-Range": f"bytes 0-{size - 1}/{size}"})


def tiktok_upload(url: str, key: str, data: bytes, title: str = "a raw post") -> tuple[str, httpx.Response]:
    """init + the PUT of `data`: (publish id, the PUT's answer)."""
    init = tiktok_init(url, key, len(data), title)
    assert init.status_code == 200, init.text
    out = init.json()["data"]
    return out["publish_id"], tiktok_put(out["upload_url"], data, len(data))


def tiktok_status(url: str, key: str, publish_id: str) -> dict:
    resp = tiktok(url, key, TIKTOK_STATUS, {"publish_id": publish_id})
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


# --------------------------------------------------------------------------------------- Instagram
def ig_container(url: str, key: str, caption: str = "a raw reel", **params: str) -> httpx.Response:
    return httpx.post(f"{url}{G}/me/media", timeout=30, data={
        "access_token": key, "media_type": "REELS", "caption": caption, **params})


def ig_put(upload_uri: str, key: str, data: bytes | Iterable[bytes], size: int, offset: int = 0) -> httpx.Response:
    return httpx.post(upload_uri, content=data, timeout=60, headers={
        "Authorization": f"OAuth {key}", "offset": str(offset), "file_size": str(size)})


def ig_upload(url: str, key: str, data: bytes, caption: str = "a raw reel") -> tuple[str, httpx.Response]:
    """A resumable container and the upload of `data` to it: (container id, the upload's answer)."""
    made = ig_container(url, key, caption, upload_type="resumable")
    assert made.status_code == 200, made.text
    return made.json()["id"], ig_put(made.json()["uri"], key, data, len(data))


def ig_status(url: str, key: str, container_id: str) -> dict:
    """The container's status_code and status (each read counts: the first one after the upload is IN_PROGRESS)."""
    resp = httpx.get(f"{url}{G}/{container_id}", params={"access_token": key, "fields": "status_code,status"},
                     timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()


def ig_finished(url: str, key: str, container_id: str) -> dict:
    """Poll the container until it is no longer IN_PROGRESS (a FINISHED or ERROR status)."""
    for _ in range(5):
        status = ig_status(url, key, container_id)
        if status["status_code"] != "IN_PROGRESS":
            return status
    raise AssertionError(f"container {container_id} still IN_PROGRESS: {status}")


def ig_publish(url: str, key: str, container_id: str) -> httpx.Response:
    return httpx.post(f"{url}{G}/me/media_publish", data={"access_token": key, "creation_id": container_id},
                      timeout=30)
