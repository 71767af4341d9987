"""Colours, contrast and what lies under the text: the theme of a render, the scrim, background pictures.

Over background media (an image or a clip) the text is white and goes over a dark scrim whose opacity is
computed so that white text keeps a set contrast even over a white picture; without media the theme's
text colour is whichever of white and near-black contrasts more with the background.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from PIL import Image, ImageOps

from actp_pipeline.renders.spec import (
    HEIGHT,
    SAFE_AREA,
    WIDTH,
    ZOOM_MAX,
    RenderError,
    RenderSpec,
    parse_hex_color,
)

RGB = tuple[int, int, int]


# --------------------------------------------------------------------------------------------- colours


def _lin(c: int) -> float:
    s = c / 255
    return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4


def luminance(rgb: RGB) -> float:
    r, g, b = (_lin(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: RGB, b: RGB) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


WHITE: RGB = (255, 255, 255)
INK: RGB = (17, 24, 39)


def readable_on(bg: RGB) -> RGB:
    """White or near-black, whichever contrasts more with `bg`."""
    return WHITE if contrast_ratio(WHITE, bg) >= contrast_ratio(INK, bg) else INK


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


BLACK: RGB = (0, 0, 0)

# Over background media: the text is white, and the scrim under it is dark enough that white text keeps
# TEXT_CONTRAST (WCAG AA for normal text; all our text is large, where AA asks 3:1) over any picture, even
# a pure white one; muted text (listicle header, attribution) keeps MUTED_CONTRAST (AA for large text).
SCRIM_MIN_CONTRAST = 7.0  # the scrim colour itself against white: the spec's background, darkened to this
TEXT_CONTRAST = 4.5
MUTED_CONTRAST = 3.0
MEDIA_MUTED_MIX = 0.15  # muted text over media: this much of the scrim colour in white
SCRIM_MARGIN = 0.03  # extra opacity for YUV rounding and chroma subsampling
SCRIM_TOP_SHARE = 0.45  # at the very top the scrim has this share of its opacity, ramping up to the safe area


def composite(over: RGB, under: RGB, alpha: float) -> RGB:
    """`over` at opacity `alpha` on top of `under` (sRGB values, as Pillow and ffmpeg blend them)."""
    return mix(under, over, alpha)


@dataclass(frozen=True)
class Theme:
    background: RGB
    text: RGB
    muted: RGB
    accent: RGB
    on_accent: RGB
    card: RGB
    scrim: RGB | None = None  # over background media: the scrim colour (`background` is then this colour)
    scrim_alpha: float = 0.0  # ... and its opacity over the safe area

    @classmethod
    def from_spec(cls, spec: RenderSpec) -> Theme:
        bg = parse_hex_color(spec.background)
        accent = parse_hex_color(spec.accent)
        if spec.background_media is not None:
            return cls.over_media(bg, accent)
        text = readable_on(bg)
        return cls(
            background=bg,
            text=text,
            muted=mix(text, bg, 0.35),
            accent=accent,
            on_accent=readable_on(accent),
            card=mix(bg, text, 0.10),
        )

    @classmethod
    def over_media(cls, bg: RGB, accent: RGB) -> Theme:
        """White text over a scrim tinted by `bg` (darkened until it is a dark colour)."""
        scrim = bg
        t = 0.0
        while contrast_ratio(WHITE, scrim) < SCRIM_MIN_CONTRAST and t < 1.0:
            t = min(1.0, t + 0.05)
            scrim = mix(bg, BLACK, t)
        muted = mix(WHITE, scrim, MEDIA_MUTED_MIX)
        return cls(
            background=scrim,
            text=WHITE,
            muted=muted,
            accent=accent,
            on_accent=readable_on(accent),
            card=mix(scrim, WHITE, 0.10),
            scrim=scrim,
            scrim_alpha=scrim_alpha(scrim, ((WHITE, TEXT_CONTRAST), (muted, MUTED_CONTRAST))),
        )


def scrim_alpha(scrim: RGB, needs: tuple[tuple[RGB, float], ...]) -> float:
    """The least opacity of `scrim` over a pure white picture at which every (text colour, contrast) in
    `needs` holds, plus a margin: over any darker pixel the contrast is only higher."""
    for step in range(256):
        a = step / 255
        under = composite(scrim, WHITE, a)
        if all(contrast_ratio(fg, under) >= need for fg, need in needs):
            return min(1.0, a + SCRIM_MARGIN)
    raise RenderError(f"no scrim opacity gives the text enough contrast over the scrim colour {scrim}")


def worst_case_contrast(theme: Theme, colour: RGB | None = None) -> float:
    """Contrast of `colour` (default: the text colour) against the scrim over a pure white picture."""
    return contrast_ratio(colour or theme.text, composite(theme.scrim or theme.background, WHITE, theme.scrim_alpha))


def scrim_profile(theme: Theme) -> list[float]:
    """The scrim's opacity per row: full over the safe area and below it (where the platforms put their own
    white captions), easing off towards the top edge so that more of the picture shows there."""
    a = theme.scrim_alpha
    top = SAFE_AREA.y0
    out = []
    for y in range(HEIGHT):
        if y >= top:
            out.append(a)
        else:
            u = y / top
            out.append(a * (SCRIM_TOP_SHARE + (1 - SCRIM_TOP_SHARE) * u * u * (3 - 2 * u)))
    return out


def scrim_image(theme: Theme) -> Image.Image:
    """The scrim as an RGBA frame (scrim colour, opacity by row)."""
    col = Image.new("L", (1, HEIGHT))
    col.putdata([round(255 * a) for a in scrim_profile(theme)])
    alpha = col.resize((WIDTH, HEIGHT), Image.Resampling.NEAREST)
    im = Image.new("RGBA", (WIDTH, HEIGHT), (*(theme.scrim or theme.background), 0))
    im.putalpha(alpha)
    return im


# --------------------------------------------------------------------------------------------- media


def zoom_size() -> tuple[int, int]:
    """Size of an image background prepared for the zoom: the frame at ZOOM_MAX (even sides), so the most
    zoomed-in frame is a 1:1 crop and every other frame a slight downscale (never an upscale)."""
    return 2 * round(WIDTH * ZOOM_MAX / 2), 2 * round(HEIGHT * ZOOM_MAX / 2)


def load_image(path: str | os.PathLike, size: tuple[int, int], fill: RGB = BLACK) -> Image.Image:
    """The picture at `path` turned upright (EXIF), flattened onto `fill` if it has transparency, scaled to
    cover `size` and centre-cropped to it. RenderError naming the file if it cannot be read."""
    name = os.fspath(path)
    try:
        with Image.open(name) as im:
            w, h = im.size
            # the scale that covers `size` whichever way the EXIF orientation turns the picture
            s = max(size[0] / w, size[1] / h, size[0] / h, size[1] / w)
            if s < 1 and im.format == "JPEG":
                im.draft("RGB", (max(1, int(w * s + 1)), max(1, int(h * s + 1))))  # decode at 1/2, 1/4 or 1/8
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                flat = Image.new("RGBA", rgba.size, (*fill, 255))
                flat.alpha_composite(rgba)
                im = flat
            return ImageOps.fit(im.convert("RGB"), size, Image.Resampling.BICUBIC, centering=(0.5, 0.5))
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise RenderError(f"background_media {name}: cannot read the image: {exc}") from None


def background_image(spec: RenderSpec, theme: Theme | None = None) -> Image.Image:
    """The still under the text of an image-background render. Without zoom: the picture at frame size with
    the scrim composited in. With zoom: the bare picture at zoom_size() (the scrim then rides on the text
    layer, so that it does not zoom)."""
    if spec.background_media is None or spec.media_kind != "image":
        raise ValueError("background_image needs an image background")
    theme = theme or Theme.from_spec(spec)
    if spec.zooms:
        return load_image(spec.background_media, zoom_size(), parse_hex_color(spec.background))
    im = load_image(spec.background_media, (WIDTH, HEIGHT), parse_hex_color(spec.background)).convert("RGBA")
    im.alpha_composite(scrim_image(theme))
    return im.convert("RGB")
