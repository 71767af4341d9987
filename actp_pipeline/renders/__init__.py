"""The built-in renderer: a variant becomes a checked H.264/AAC MP4 (1080x1920, 30 fps).

    probe = render_variant(RenderSpec(...), Path("out/v_123.mp4"))

Scenes are drawn as stills with Pillow (templates/, one module per template family, on the timeline of
scenes.py and the colours of theme.py; text laid out by layout.py), joined by ffmpeg (ffmpeg.py, the
binary from the imageio-ffmpeg wheel) and checked with PyAV (checks.py).
No dagster here: local_ops wraps this in ops and resources.
"""

from actp_pipeline.renders.checks import PLATFORM_SPECS, VideoProbe, check_video, probe_video, sha256_file
from actp_pipeline.renders.ffmpeg import ffmpeg_exe, render_variant
from actp_pipeline.renders.layout import TextBlock, fit_text, wrap_text
from actp_pipeline.renders.remotion import RemotionRenderer, remotion_available
from actp_pipeline.renders.spec import FPS, HEIGHT, SAFE_AREA, WIDTH, Box, RenderError, RenderSpec
from actp_pipeline.renders.templates import TEMPLATES, Template

__all__ = [
    "FPS",
    "HEIGHT",
    "PLATFORM_SPECS",
    "SAFE_AREA",
    "TEMPLATES",
    "WIDTH",
    "Box",
    "RemotionRenderer",
    "RenderError",
    "RenderSpec",
    "Template",
    "TextBlock",
    "VideoProbe",
    "check_video",
    "ffmpeg_exe",
    "fit_text",
    "probe_video",
    "remotion_available",
    "render_variant",
    "sha256_file",
    "wrap_text",
]
