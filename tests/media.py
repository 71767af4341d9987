"""Tiny real MP4 files for tests, made with the ffmpeg binary of imageio-ffmpeg, and the creative
variants whose descriptors they carry."""

from __future__ import annotations

import subprocess
from pathlib import Path

from actp_pipeline import creative


def make_mp4(path: Path, comment: str | None = None, seconds: float = 1.0, color: str = "black") -> Path:
    """A `seconds` long 108x192 H.264 MP4 of one colour, with `comment` as its comment metadata."""
    import imageio_ffmpeg

    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"color=c={color}:s=108x192:d={seconds}",
        "-c:v", "libx264", "-pix_fmt", "yuv420p",
    ]
    if comment is not None:
        cmd += ["-metadata", f"comment={comment}"]
    subprocess.run([*cmd, str(path)], check=True, capture_output=True, timeout=60)
    return path


def variant(hook_pattern="pov", angle="urgency", cta_style="save", format="listicle", length_s=15,
            topic="skincare", hook="POV: you finally found a serum that works.") -> dict:
    """A creative variant's descriptor fields (creative.descriptor_json writes them into a video)."""
    return {
        "variant_id": creative.variant_id(hook_pattern, angle, cta_style, format, length_s, topic),
        "hook_pattern": hook_pattern,
        "angle": angle,
        "cta_style": cta_style,
        "format": format,
        "length_s": length_s,
        "hook": hook,
    }


def other_variant() -> dict:
    """A variant the sandbox world rates differently from variant()'s defaults."""
    return variant(hook_pattern="question", angle="pain_point", cta_style="comment", format="text_hook", length_s=24,
                   hook="Why do your breakouts keep coming back?")
