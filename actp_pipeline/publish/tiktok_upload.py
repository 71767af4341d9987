"""The FILE_UPLOAD half of a TikTok Direct Post: how a video is cut into chunks (the Media Transfer Guide's
rules) and how each chunk is PUT to the upload URL, with the one distinction that matters for not posting
twice: a failure before the final chunk means no post can follow, a failure of the final chunk may mean
the video is complete and on its way to becoming a post."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from actp_pipeline.publish.publisher import AmbiguousOutcome, PlatformError

MiB = 1024 * 1024
CHUNK_MIN = 5 * MiB  # "at least 5 MB": binary, the stricter reading for a lower bound
CHUNK_MAX = 64_000_000  # "no greater than 64 MB": decimal, the stricter reading for an upper bound
DEFAULT_CHUNK = 10_000_000  # the chunk size of TikTok's own example


def chunk_plan(video_size: int, chunk_size: int = DEFAULT_CHUNK) -> tuple[int, int]:
    """(chunk_size, total_chunk_count) by the Media Transfer Guide: a video under 5 MB is one chunk of its
    size; otherwise chunks of 5 MB to 64 MB, count = floor(size / chunk), the last one taking the rest (up
    to 128 MB), several chunks for a video over 64 MB, at most 1000."""
    if video_size <= 0:
        raise ValueError("the video is empty")
    if video_size < CHUNK_MIN:
        return video_size, 1
    chunk = min(max(chunk_size, CHUNK_MIN), CHUNK_MAX)
    if video_size > CHUNK_MAX:
        chunk = min(chunk, video_size // 2)
    chunk = max(chunk, -(-video_size // 1000))  # at most 1000 chunks
    return chunk, max(1, video_size // chunk)


class TikTokChunkUpload:
    """The chunked PUTs of one publish (the client is the publisher's `_upload_http`)."""

    _upload_http: httpx.Client
    chunk_attempts: int

    def _upload(self, media_path: Path, upload_url: str, size: int, chunk: int, count: int,
                before_final: Callable[[], None] | None = None) -> None:
        """PUT every chunk; `before_final()` (the worker's claim fence) runs right before the final one, the
        call that makes the post, and raises SendRefused when the claim is no longer this worker's."""
        with open(media_path, "rb") as fh:
            for i in range(count):
                first = i * chunk
                length = chunk if i < count - 1 else size - first
                fh.seek(first)
                if i == count - 1 and before_final is not None:
                    before_final()
                self._put_chunk(upload_url, fh.read(length), first, size, final=i == count - 1)

    def _put_chunk(self, upload_url: str, data: bytes, first: int, size: int, *, final: bool) -> None:
        headers = {"Content-Type": "video/mp4", "Content-Range": f"bytes {first}-{first + len(data) - 1}/{size}"}
        what = f"PUT chunk bytes {first}-{first + len(data) - 1}/{size}"
        for attempt in range(1, self.chunk_attempts + 1):
            try:
                resp = self._upload_http.put(upload_url, content=data, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout) as e:  # nothing of this chunk was sent
                if attempt == self.chunk_attempts:
                    raise PlatformError(f"{what}: cannot connect ({e})", retryable=True) from e
                continue
            except httpx.TransportError as e:
                if final:  # the video may be complete and on its way to becoming a post
                    raise AmbiguousOutcome(f"{what} (final): {type(e).__name__} after sending ({e})",
                                           retryable=True) from e
                if attempt == self.chunk_attempts:
                    raise PlatformError(f"{what}: {type(e).__name__} ({e})", retryable=True) from e
                continue
            if resp.status_code in (200, 201, 206):
                return
            if resp.status_code >= 500:
                if final:
                    raise AmbiguousOutcome(f"{what} (final) -> HTTP {resp.status_code}", status=resp.status_code,
                                           retryable=True)
                if attempt < self.chunk_attempts:
                    continue
            raise PlatformError(f"{what} -> HTTP {resp.status_code}: {resp.text[:300]}", status=resp.status_code,
                                retryable=resp.status_code >= 500)
