"""How the sandbox audience "watches" an uploaded video: open it with PyAV, decode a frame, read the
creative descriptor the renderer embedded in the MP4's `comment` metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actp_pipeline import creative

from .errors import ApiError
from .validation import decode_json

ACCEPTED_CONTAINERS = ("mp4", "mov")
# The platforms take at most 1080x1920; 4096 a side leaves room for 4K masters while one decoded frame
# stays near 25 MB (YUV 4:2:0). An 8192x8192 frame in a 14 KB file would cost ~160 MB per request.
MAX_FRAME_SIDE = 4096


def check_frame_size(stream: Any, what: str) -> None:
    """422 when the container header declares a frame over MAX_FRAME_SIDE (or none): read before any
    frame is decoded, so a tiny file cannot make the decoder allocate a huge picture."""
    ctx = stream.codec_context
    if ctx is None:  # PyAV has no decoder for the stream's codec tag (an unknown or mangled fourcc)
        raise ApiError(422, "undecodable_media", f"the {what}'s video stream has a codec this sandbox cannot "
                       "decode (send H.264 in an MP4)", field=what)
    width, height = int(ctx.width or 0), int(ctx.height or 0)
    if width <= 0 or height <= 0:
        raise ApiError(422, "undecodable_media", f"the {what}'s video stream declares no frame size", field=what)
    if width > MAX_FRAME_SIDE or height > MAX_FRAME_SIDE:
        raise ApiError(422, "media_too_large", f"the {what}'s frames are {width}x{height}; at most "
                       f"{MAX_FRAME_SIDE}x{MAX_FRAME_SIDE} is accepted", field=what)


def probe(path: Path | str, what: str = "body") -> dict[str, Any]:
    """Duration, size, container and descriptor of a video file; ApiError 415/422 if it is not one.

    `what` names the upload in error messages and their `field` ("body" for the API, "video" for the web form).

    415: not an MP4/MOV container at all. 422: the container opens but holds no decodable video.
    A missing or unreadable descriptor is not an error: the video is a neutral, unknown creative and
    `descriptor_error` says why when there was something that could not be read.
    """
    import av  # imported here: PyAV is slow to import and only the upload route needs it

    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise ApiError(415, "unsupported_media", f"the {what} is not a readable MP4 video ({exc.__class__.__name__})",
                       field=what) from None
    try:
        names = set((container.format.name or "").split(","))
        if not names.intersection(ACCEPTED_CONTAINERS):
            raise ApiError(415, "unsupported_media",
                           f"the {what} must be an MP4 container, got {container.format.name!r}", field=what)
        if not container.streams.video:
            raise ApiError(422, "undecodable_media", f"the {what} MP4 has no video stream", field=what)
        stream = container.streams.video[0]
        check_frame_size(stream, what)
        try:
            frame = next(iter(container.decode(stream)), None)
        except (av.FFmpegError, ValueError) as exc:
            raise ApiError(422, "undecodable_media", f"the {what}'s video stream cannot be decoded: {exc}", field=what) from None
        if frame is None:
            raise ApiError(422, "undecodable_media", f"the {what}'s video stream has no frames", field=what)
        duration_s = 0.0
        if container.duration:
            duration_s = float(container.duration) / float(av.time_base)
        elif stream.duration and stream.time_base:
            duration_s = float(stream.duration * stream.time_base)
        descriptor, descriptor_error = read_descriptor(dict(container.metadata))
        return {
            "duration_s": round(duration_s, 3),
            "width": int(frame.width),
            "height": int(frame.height),
            "container": "mp4",
            "descriptor": descriptor,
            "descriptor_error": descriptor_error,
        }
    finally:
        container.close()


def read_descriptor(metadata: dict[str, str]) -> tuple[dict[str, Any] | None, str | None]:
    """The creative descriptor from container metadata, or (None, reason) when absent or unreadable."""
    raw = metadata.get("comment")
    if raw is None:
        return None, None
    try:
        parsed = decode_json(raw)  # the uploader wrote it: as hostile as any request body
    except (TypeError, ValueError):
        return None, "comment metadata is not JSON"
    if not isinstance(parsed, dict) or not isinstance(parsed.get(creative.DESCRIPTOR_KEY), dict):
        return None, f"comment metadata has no {creative.DESCRIPTOR_KEY!r} object"
    desc = parsed[creative.DESCRIPTOR_KEY]
    return {k: desc.get(k) for k in creative.DESCRIPTOR_FIELDS}, None
