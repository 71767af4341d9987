"""Fixtures for the sandbox tests: tiny real MP4 files made with the ffmpeg binary of imageio-ffmpeg."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from actp_pipeline import creative


def make_mp4(path: Path, comment: str | None = None, seconds: float = 1.0, color: str = "black") -> Path:
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
    return {
        "variant_id": creative.variant_id(hook_pattern, angle, cta_style, format, length_s, topic),
        "hook_pattern": hook_pattern,
        "angle": angle,
        "cta_style": cta_style,
        "format": format,
        "length_s": length_s,
        "hook": hook,
    }


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sandbox_media")


@pytest.fixture(scope="session")
def mp4_with_descriptor(media_dir) -> tuple[Path, dict]:
    v = variant()
    return make_mp4(media_dir / "variant_a.mp4", creative.descriptor_json(v)), v


@pytest.fixture(scope="session")
def mp4_other_descriptor(media_dir) -> tuple[Path, dict]:
    v = variant(hook_pattern="question", angle="pain_point", cta_style="comment", format="text_hook", length_s=24,
                hook="Why do your breakouts keep coming back?")
    return make_mp4(media_dir / "variant_b.mp4", creative.descriptor_json(v), color="white"), v


@pytest.fixture(scope="session")
def mp4_without_descriptor(media_dir) -> Path:
    return make_mp4(media_dir / "plain.mp4", None, color="red")


@pytest.fixture(scope="session")
def mp4_bad_descriptor(media_dir) -> Path:
    return make_mp4(media_dir / "bad_comment.mp4", json.dumps({"other": 1}), color="blue")
