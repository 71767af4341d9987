"""The three render templates, one per creative format (one module per family), by name.

Each scene is drawn here as a still with Pillow and held by ffmpeg, which keeps every pixel of text
under our control: the layout functions measure each line, so nothing can leave the safe area. The
timeline and the `Template` base are in renders/scenes.py; colours and the scrim in renders/theme.py.
"""

from __future__ import annotations

from actp_pipeline.renders.scenes import Template
from actp_pipeline.renders.templates.listicle import ListicleTemplate
from actp_pipeline.renders.templates.testimonial import TestimonialTemplate
from actp_pipeline.renders.templates.text_hook import TextHookTemplate

TEMPLATES: dict[str, Template] = {
    t.name: t for t in (TextHookTemplate(), ListicleTemplate(), TestimonialTemplate())
}

__all__ = ["TEMPLATES", "ListicleTemplate", "Template", "TestimonialTemplate", "TextHookTemplate"]
