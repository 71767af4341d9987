"""The built-in renderer: real ffmpeg renders decoded with PyAV, hostile text, checks and failure modes."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import replace
from pathlib import Path

import av
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from actp_pipeline import creative
from actp_pipeline.renders import (
    FPS,
    HEIGHT,
    PLATFORM_SPECS,
    SAFE_AREA,
    TEMPLATES,
    WIDTH,
    Box,
    RenderError,
    RenderSpec,
    VideoProbe,
    check_video,
    ffmpeg_exe,
    fit_text,
    probe_video,
    render_variant,
    sha256_file,
    wrap_text,
)
from actp_pipeline.renders import ffmpeg as ffmpeg_mod
from actp_pipeline.renders.layout import clean_text, clusters, draw_block, line_width, load_font
from actp_pipeline.renders.spec import parse_hex_color
from actp_pipeline.renders.scenes import Canvas, plan_slots
from actp_pipeline.renders.scenes import scene_content as content_of
from actp_pipeline.renders.theme import Theme, background_image, contrast_ratio, scrim_profile, worst_case_contrast

HOSTILE = {
    "long_word": "Supercalifragilisticexpialidocious" * 6,
    "long_text": " ".join(["conversion-optimised creative testing at scale"] * 40),
    "emoji": "\U0001f525\U0001f525 Big news \U0001f680\U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f1fa\U0001f1f8 wow \u2728" * 3,
    "arabic": "\u0647\u0630\u0627 \u0627\u0644\u0645\u0646\u062a\u062c \u063a\u064a\u0651\u0631 \u062d\u064a\u0627\u062a\u064a \u062a\u0645\u0627\u0645\u064b\u0627 \u0648\u0623\u0646\u0635\u062d \u0628\u0647 \u0627\u0644\u062c\u0645\u064a\u0639",
    "hebrew": "\u05d6\u05d4 \u05e9\u05d9\u05e0\u05d4 \u05dc\u05d9 \u05d0\u05ea \u05d4\u05d7\u05d9\u05d9\u05dd \u2014 100% \u05de\u05de\u05dc\u05d9\u05e5!",
    "mixed_bidi": "Sale \u05de\u05d1\u05e6\u05e2 50% off \u0639\u0631\u0636 today",
    "ffmpeg_syntax": "It's 100% \"real\": a:b=c; [in]drawtext=text='x',scale=2:2 \\ C:\\path\\%d %{pts} \\n ,;[]",
    "controls": "tab\there\x00nul\x07bell\r\nnew line\u202eRLO\u200bzwsp",
    "combining": "Zalgo\u0301\u0302\u0303\u0304 e\u0301 a\u0308 \u1ebd\u0300\u0301",
}


def make_spec(fmt: str = "text_hook", length: float = 3.0, **kw) -> RenderSpec:
    hook = kw.pop("hook", "Stop scrolling: 3 hooks that work")
    vid = creative.variant_id("question", "curiosity", "follow", fmt, int(length), "renders-test")
    descriptor = kw.pop(
        "descriptor",
        creative.descriptor_json({"variant_id": vid, "format": fmt, "length_s": length, "hook": hook + " \u2728 \"q\" 100%"}),
    )
    return RenderSpec(
        variant_id=vid,
        hook=hook,
        body_lines=kw.pop("body_lines", ("First: say the payoff", "Second: show it", "- Dana, shop owner")),
        cta=kw.pop("cta", "Follow for part 2"),
        format=fmt,
        length_s=length,
        descriptor=descriptor,
        **kw,
    )


def assert_house_format(probe: VideoProbe, length: float) -> None:
    assert probe.codec == "h264"
    assert (probe.width, probe.height) == (1080, 1920)
    assert abs(probe.fps - 30) <= 0.01
    assert abs(probe.duration_s - length) <= 0.15
    assert probe.has_audio and probe.audio_codec == "aac"
    assert probe.audio_channels == 2 and probe.audio_sample_rate == 48000
    assert probe.pix_fmt == "yuv420p"
    assert probe.moov_first is True  # faststart
    assert probe.edit_lists == 0
    assert probe.frame_count == round(length * FPS)


def decode_frames(path: Path, indexes: set[int]) -> dict[int, Image.Image]:
    out = {}
    with av.open(str(path)) as c:
        c.streams.video[0].thread_type = "AUTO"
        for i, frame in enumerate(c.decode(video=0)):
            if i in indexes:
                out[i] = frame.to_image()
            if i >= max(indexes):
                break
    return out


def accent_share(im: Image.Image, accent: str) -> float:
    """Share of pixels within a small distance of the accent colour (tolerates YUV round trips)."""
    r, g, b = parse_hex_color(accent)
    small = im.convert("RGB").resize((108, 192))
    px = [small.getpixel((x, y)) for y in range(small.height) for x in range(small.width)]
    near = sum(1 for (pr, pg, pb) in px if abs(pr - r) < 40 and abs(pg - g) < 40 and abs(pb - b) < 40)
    return near / len(px)


# ------------------------------------------------------------------------------------------ real renders


@pytest.mark.parametrize("fmt", creative.FORMATS)
def test_render_each_template_decodes_to_the_house_format(tmp_path: Path, fmt: str) -> None:
    spec = make_spec(fmt, 3.0)
    out = tmp_path / f"{fmt}.mp4"
    probe = render_variant(spec, out)
    assert out.is_file() and out.stat().st_size == probe.size_bytes > 0
    assert_house_format(probe, 3.0)
    assert check_video(probe, expected_duration_s=3.0) == []
    # the descriptor comes back byte for byte, and is the JSON we put in
    assert probe.comment == spec.descriptor
    assert json.loads(probe.comment)[creative.DESCRIPTOR_KEY]["format"] == fmt
    # an independent decode of the file on disk agrees
    assert probe_video(out) == probe
    with av.open(str(out)) as c:
        assert c.metadata["comment"] == spec.descriptor
        frames = sum(1 for _ in c.decode(video=0))
    assert frames == 90
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temp file left next to it


def test_15s_render_timeline_and_platforms(tmp_path: Path) -> None:
    spec = make_spec("text_hook", 15.0, body_lines=("one", "two", "three"), accent="#22c55e")
    out = tmp_path / "v15.mp4"
    probe = render_variant(spec, out)
    assert_house_format(probe, 15.0)
    for platform in creative.PLATFORMS:
        assert check_video(probe, platform, expected_duration_s=15.0) == [], platform
    frames = decode_frames(out, {0, 45, 200, 440})
    blank = Image.new("RGB", (WIDTH, HEIGHT), parse_hex_color(spec.background))
    # the hook is on screen from the very first frame (it is the cover frame on Reels)
    assert ImageChops.difference(frames[0], blank).getbbox() is not None
    # the CTA end card is an accent box at the end, and there is no such box during the hook
    assert accent_share(frames[440], spec.accent) > 0.05
    assert accent_share(frames[45], spec.accent) < 0.01
    # the body caption sits in the lower third while the hook stays up top
    mid = frames[200].crop((0, int(HEIGHT * 0.56), WIDTH, int(HEIGHT * 0.78)))
    assert ImageChops.difference(mid, blank.crop((0, int(HEIGHT * 0.56), WIDTH, int(HEIGHT * 0.78)))).getbbox()


def test_hostile_text_renders_in_every_template(tmp_path: Path) -> None:
    for fmt in creative.FORMATS:
        spec = make_spec(
            fmt,
            3.5,
            hook=HOSTILE["ffmpeg_syntax"] + " " + HOSTILE["emoji"],
            body_lines=(HOSTILE["arabic"], HOSTILE["long_word"], HOSTILE["hebrew"], HOSTILE["long_text"]),
            cta=HOSTILE["mixed_bidi"] + " " + HOSTILE["controls"],
            descriptor=json.dumps({"actp": {"hook": HOSTILE["ffmpeg_syntax"], "x": HOSTILE["arabic"] + "\U0001f525"}},
                                  ensure_ascii=False),
        )
        # a directory and file name that a naive filter graph or protocol parser would choke on
        out = tmp_path / "we:ird %d [dir], it's" / f"-{fmt} 100%.mp4"
        probe = render_variant(spec, out)
        assert out.is_file()
        assert_house_format(probe, 3.5)
        assert probe.comment == spec.descriptor


def test_same_spec_gives_the_same_bytes(tmp_path: Path, monkeypatch) -> None:
    spec = make_spec("listicle", 2.0)
    render_variant(spec, tmp_path / "a.mp4", threads=2)
    render_variant(spec, tmp_path / "b.mp4", threads=2)
    assert sha256_file(tmp_path / "a.mp4") == sha256_file(tmp_path / "b.mp4")
    assert sha256_file(tmp_path / "a.mp4") == hashlib.sha256((tmp_path / "a.mp4").read_bytes()).hexdigest()
    # long renders hand their stills to ffmpeg as PNG instead of BMP: same pictures up to encoder noise
    monkeypatch.setattr(ffmpeg_mod, "BMP_MAX_SCENES", 0)
    probe = render_variant(spec, tmp_path / "c.mp4", threads=2)
    assert_house_format(probe, 2.0)
    a, c = decode_frames(tmp_path / "a.mp4", {10, 59}), decode_frames(tmp_path / "c.mp4", {10, 59})
    for i in a:
        assert max(ImageStat.Stat(ImageChops.difference(a[i], c[i])).mean) < 1.0


# ------------------------------------------------------------------------------------------ templates


def _outside_safe_area_is_background(im: Image.Image, bg: tuple[int, int, int]) -> bool:
    diff = ImageChops.difference(im, Image.new("RGB", im.size, bg)).convert("L").point(lambda v: 255 if v > 8 else 0)
    ImageDraw.Draw(diff).rectangle((SAFE_AREA.x0, SAFE_AREA.y0, SAFE_AREA.x1 - 1, SAFE_AREA.y1 - 1), fill=0)
    return diff.getbbox() is None


@pytest.mark.parametrize("fmt", creative.FORMATS)
@pytest.mark.parametrize("case", ["plain", "hostile", "many_lines", "empty"])
def test_scenes_keep_everything_inside_the_safe_area(fmt: str, case: str) -> None:
    spec = {
        "plain": make_spec(fmt, 15.0),
        "hostile": make_spec(fmt, 15.0, hook=HOSTILE["long_text"], body_lines=tuple(HOSTILE.values()),
                             cta=HOSTILE["long_word"] + HOSTILE["emoji"], attribution=HOSTILE["long_text"]),
        "many_lines": make_spec(fmt, 9.0, body_lines=tuple(f"Tip {i}: {HOSTILE['mixed_bidi']}" for i in range(25))),
        "empty": make_spec(fmt, 4.0, hook="", body_lines=(), cta=""),
    }[case]
    scenes, intro = TEMPLATES[fmt].scenes(spec)
    assert sum(s.frames for s in scenes) == round(spec.length_s * FPS)
    assert [s.start for s in scenes] == [sum(x.frames for x in scenes[:i]) for i in range(len(scenes))]
    bg = parse_hex_color(spec.background)
    for sc in [*scenes]:
        assert sc.image.size == (WIDTH, HEIGHT)
        for box in sc.text_boxes:
            assert SAFE_AREA.contains(box), (sc.name, box)
        assert _outside_safe_area_is_background(sc.image, bg), sc.name
        assert 0 <= sc.transition_frames <= sc.frames // 3
    assert _outside_safe_area_is_background(intro, bg)
    if case != "empty":
        assert scenes[0].name == "hook" and scenes[-1].name == "cta"
        assert any(s.name.startswith("body") for s in scenes)


def test_templates_look_different() -> None:
    images = {fmt: TEMPLATES[fmt].scenes(make_spec(fmt, 9.0))[0] for fmt in creative.FORMATS}
    for a in creative.FORMATS:
        for b in creative.FORMATS:
            if a < b:
                body_a = next(s for s in images[a] if s.name == "body1").image
                body_b = next(s for s in images[b] if s.name == "body1").image
                assert ImageChops.difference(body_a, body_b).getbbox() is not None, (a, b)
    assert set(TEMPLATES) == set(creative.FORMATS)
    # the testimonial takes its attribution from a "- name" last line and does not quote it
    t = TEMPLATES["testimonial"]
    scenes, _ = t.scenes(make_spec("testimonial", 9.0))
    assert len([s for s in scenes if s.name.startswith("body")]) == 2
    c = content_of(make_spec("testimonial"), t)
    assert c.attribution == "Dana, shop owner" and c.body == ("First: say the payoff", "Second: show it")
    assert content_of(make_spec("testimonial", attribution="Sam"), t).attribution == "Sam"
    assert content_of(make_spec("testimonial", body_lines=("Great.",)), t).attribution  # a neutral default
    assert content_of(make_spec("text_hook"), TEMPLATES["text_hook"]).body[-1] == "- Dana, shop owner"
    # the attribution line is drawn under the card with the last quote line
    last = [s for s in scenes if s.name.startswith("body")][-1]
    card_bottom = max(b.y1 for b in scenes[1].text_boxes)
    assert max(b.y1 for b in last.text_boxes) > card_bottom


def test_plan_slots_add_up_and_follow_the_timeline() -> None:
    for total in (30, 90, 105, 270, 450, 720, 1800):
        for n in (0, 1, 3, 7, 40):
            slots = plan_slots(n, total)
            assert sum(s.frames for s in slots) == total
            assert all(s.frames > 0 for s in slots)
            assert slots[0].kind == "hook"
            body = [s for s in slots if s.kind == "body"]
            covered = [i for s in body for i in s.lines]
            assert covered == (list(range(n)) if body else [])
            assert all(s.frames >= 15 for s in body)
    slots = plan_slots(3, 450)
    assert [(s.kind, s.start, s.frames) for s in slots] == [
        ("hook", 0, 75), ("body", 75, 100), ("body", 175, 100), ("body", 275, 100), ("cta", 375, 75)]
    # more lines than seconds: lines share slides, each slide at least a second
    slots = plan_slots(20, 270)
    assert all(s.frames >= 30 for s in slots if s.kind == "body")
    assert max(len(s.lines) for s in slots) > 1


# ------------------------------------------------------------------------------------------ text layout


@pytest.mark.parametrize("name", list(HOSTILE))
@pytest.mark.parametrize("box", [(SAFE_AREA.width, SAFE_AREA.height), (400, 300), (908, 120)])
def test_fit_text_stays_inside_its_box(name: str, box: tuple[int, int]) -> None:
    w, h = box
    block = fit_text(HOSTILE[name], w, h, max_size=120, min_size=30)
    font = load_font(block.font_size)
    assert block.lines, "something is always shown"
    for line in block.lines:
        assert line_width(font, line) <= w, line
        assert font.getlength(line) <= w
    assert block.width <= w and block.height <= h
    # draw it and look at the pixels: all ink inside the box
    target = Box(50, 50, 50 + w, 50 + h)
    im = Image.new("L", (w + 100, h + 100), 0)
    ext = draw_block(ImageDraw.Draw(im), block, target, 255)
    ink = im.getbbox()
    assert ink is not None and ext is not None
    assert target.x0 <= ink[0] and target.y0 <= ink[1] and ink[2] <= target.x1 and ink[3] <= target.y1, (ink, target)
    assert target.contains(ext)


def test_wrap_text_hard_breaks_and_keeps_clusters() -> None:
    font = load_font(60)
    lines = wrap_text("x" * 200, font, 300)
    assert len(lines) > 3 and all(line_width(font, t) <= 300 for _, t in lines)
    assert "".join(t for _, t in lines) == "x" * 200
    # a flag and a ZWJ family stay whole; a combining accent stays on its letter
    word = "\U0001f1fa\U0001f1f8\U0001f468\u200d\U0001f469\u200d\U0001f467e\u0301" * 20
    pieces = [t for _, t in wrap_text(word, font, 200)]
    assert "".join(pieces) == word
    for p in pieces:
        assert not p.startswith("\u0301") and not p.startswith("\u200d") and not p.startswith("\U0001f1f8")
    assert clusters("e\u0301\U0001f1fa\U0001f1f8a") == ["e\u0301", "\U0001f1fa\U0001f1f8", "a"]
    # paragraphs are kept apart
    assert [p for p, _ in wrap_text("a b\nc", font, 900)] == [0, 1]


def test_fit_text_shrinks_then_truncates() -> None:
    short = fit_text("Hi", 900, 600, max_size=120, min_size=30)
    long = fit_text(HOSTILE["long_text"], 900, 600, max_size=120, min_size=30)
    assert short.font_size == 120 and not short.truncated
    assert long.font_size == 30 and long.truncated and long.lines[-1].endswith("\u2026")
    assert long.height <= 600


def test_font_fallbacks(monkeypatch) -> None:
    from actp_pipeline.renders import layout

    monkeypatch.setattr(layout._cache, "fonts", {}, raising=False)  # thread-local font cache
    monkeypatch.setenv(layout.FONT_ENV, "/nonexistent/font.ttf")
    with pytest.raises(RenderError, match="not a file"):
        load_font(40)
    # no DejaVu anywhere: Pillow's bundled font still lays text out inside the box
    monkeypatch.delenv(layout.FONT_ENV)
    monkeypatch.setattr(layout, "FONT_DIRS", ())
    block = fit_text(HOSTILE["long_text"], 500, 400, max_size=90, min_size=24)
    assert block.lines and block.width <= 500 and block.height <= 400


def test_clean_text_drops_controls_keeps_words() -> None:
    assert clean_text("a\tb\x00c\x07\r\nd  e ") == "a bc\nd e"
    assert clean_text("\u0627\u0644\u0633\u0644\u0627\u0645") == "\u0627\u0644\u0633\u0644\u0627\u0645"


# ------------------------------------------------------------------------------------------ checks


def _encode(path: Path, *args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args, str(path)], check=True)


def test_check_video_finds_problems_in_a_wrong_video(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.mp4"
    _encode(wrong, "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25:duration=2", "-c:v", "mpeg4", "-an")
    probe = probe_video(wrong)
    assert (probe.width, probe.height, probe.codec, probe.has_audio) == (640, 360, "mpeg4", False)
    problems = check_video(probe, expected_duration_s=15.0)
    text = " | ".join(problems)
    for needle in ("codec", "640x360", "25.000 fps", "no audio", "duration"):
        assert needle in text, (needle, problems)
    assert any("shorter than the minimum 3" in p for p in check_video(probe, "tiktok"))
    assert any("landscape" in p for p in check_video(probe, "youtube"))
    assert any("unknown platform" in p for p in check_video(probe, "myspace"))

    # right size, wrong audio codec, wrong rate
    almost = tmp_path / "almost.mp4"
    _encode(almost, "-f", "lavfi", "-i", "color=c=black:s=1080x1920:r=24:d=1", "-f", "lavfi", "-t", "1",
            "-i", "anullsrc=r=44100:cl=mono", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "mp2", "-f", "mp4")
    p2 = probe_video(almost)
    problems = check_video(p2, expected_duration_s=1.0)
    assert any("frame rate" in p for p in problems)
    assert any("audio codec is mp" in p and "expected aac" in p for p in problems)
    assert not any("frame size" in p for p in problems)


def test_check_video_platform_limits() -> None:
    assert set(PLATFORM_SPECS) == set(creative.PLATFORMS)
    ok = VideoProbe("h264", 1080, 1920, 30.0, 15.0, 1_000_000, True, "aac", None, "yuv420p", 450, 2, 48000, True, 0)
    for platform in creative.PLATFORMS:
        assert check_video(ok, platform, expected_duration_s=15.0) == []
    long = replace(ok, duration_s=200.0)
    assert any("longer than the maximum 180" in p for p in check_video(long, "youtube"))
    assert check_video(long, "tiktok") == []
    assert any("longer than" in p for p in check_video(replace(ok, duration_s=700.0), "tiktok"))
    huge = replace(ok, size_bytes=400 * 1000**2)
    assert any("byte limit" in p for p in check_video(huge, "tiktok"))
    assert any("byte limit" in p for p in check_video(huge, "instagram"))
    assert check_video(huge, "youtube") == []
    assert any("edit list" in p for p in check_video(replace(ok, edit_lists=1), "instagram"))
    assert any("moov" in p for p in check_video(replace(ok, moov_first=False), "instagram"))
    assert any("96000" in p for p in check_video(replace(ok, audio_sample_rate=96000), "instagram"))
    assert any("fps" in p for p in check_video(replace(ok, fps=15.0), "tiktok"))
    assert any("duration" in p for p in check_video(ok, expected_duration_s=15.3))
    assert check_video(ok, expected_duration_s=15.1) == []
    assert any("frame rate" in p for p in check_video(replace(ok, fps=30.02)))


def test_probe_rejects_a_file_that_is_not_video(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    with pytest.raises(RenderError):
        probe_video(bad)


# ------------------------------------------------------------------------------------------ failures


def test_invalid_spec_raises_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "x.mp4"
    for bad in (make_spec("slideshow"), make_spec(length=0.1), make_spec(background="teal"),
                make_spec(accent="#12345"), replace(make_spec(), length_s=float("nan")), make_spec(length=601.0),
                replace(make_spec(), body_lines="not a tuple")):
        with pytest.raises(RenderError):
            render_variant(bad, out)
    assert list(tmp_path.iterdir()) == []


def test_ffmpeg_failure_raises_with_stderr_and_keeps_the_old_file(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "v.mp4"
    out.write_bytes(b"previous render")
    with pytest.raises(RenderError) as err:
        render_variant(make_spec(), out, preset="no-such-preset")
    assert "ffmpeg exited with status" in str(err.value)
    assert "preset" in str(err.value).lower()  # ffmpeg's own words are in the message
    assert out.read_bytes() == b"previous render"
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]

    # a render that ffmpeg completes but that fails the checks is not moved into place either
    monkeypatch.setattr(ffmpeg_mod, "X264_OPTS", ("-r", "25"))
    with pytest.raises(RenderError) as err:
        render_variant(make_spec(), out)
    assert "failed its checks" in str(err.value) and "frame rate" in str(err.value)
    assert out.read_bytes() == b"previous render"
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]


def test_timeout_kills_ffmpeg_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "slow.mp4"
    with pytest.raises(RenderError, match="timed out"):
        render_variant(make_spec(length=20.0), out, preset="veryslow", timeout_s=0.5)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------ background media

RED, GREEN = (220, 30, 30), (30, 200, 60)


def make_image(path: Path, size: tuple[int, int] = (1200, 800)) -> Path:
    """Left half red, right half green with a black grid on it (so that a zoom shows), drawn with Pillow."""
    w, h = size
    im = Image.new("RGB", size, RED)
    d = ImageDraw.Draw(im)
    d.rectangle((w // 2, 0, w, h), fill=GREEN)
    for x in range(w // 2, w, 24):
        d.line((x, 0, x, h), fill=(0, 0, 0), width=3)
    for y in range(0, h, 24):
        d.line((w // 2, y, w, y), fill=(0, 0, 0), width=3)
    im.save(path)
    return path


def make_clip(path: Path, seconds: float, *, size: str = "1280x720", rate: int = 25, audio: bool = True) -> Path:
    args = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds:g}"]
    if audio:  # a loud tone, which must not reach the render
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds + 1:g}", "-c:a", "aac"]
    _encode(path, *args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
    return path


def media_spec(media: Path, fmt: str = "text_hook", length: float = 2.0, **kw) -> RenderSpec:
    return make_spec(fmt, length, background_media=str(media), **kw)


def mean_diff(a: Image.Image, b: Image.Image, box: tuple[int, int, int, int] | None = None) -> float:
    if box is not None:
        a, b = a.crop(box), b.crop(box)
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


def changed_share(a: Image.Image, b: Image.Image, box: tuple[int, int, int, int]) -> float:
    """Share of pixels in `box` that differ clearly (more than coding noise) between two frames."""
    d = ImageChops.difference(a.crop(box), b.crop(box)).convert("L").point(lambda v: 255 if v > 24 else 0)
    return ImageStat.Stat(d).mean[0] / 255


def mix_rgb(scrim: tuple[int, int, int] | None, under: tuple[int, int, int], a: float) -> tuple[int, ...]:
    assert scrim is not None
    return tuple(round(u + (s - u) * a) for s, u in zip(scrim, under))


def near(px: tuple[int, ...], want: tuple[int, ...], tol: int) -> bool:
    return all(abs(p - w) <= tol for p, w in zip(px, want))


# below the safe area, where no text ever goes and the scrim is at its full opacity
BOTTOM_BAND = (0, SAFE_AREA.y1 + 40, WIDTH, HEIGHT)


def test_image_background_renders_over_the_picture(tmp_path: Path) -> None:
    image = make_image(tmp_path / "bg.png")
    spec = media_spec(image, "text_hook", 2.0, zoom=False)
    out = tmp_path / "img.mp4"
    probe = render_variant(spec, out)
    assert_house_format(probe, 2.0)
    assert check_video(probe, expected_duration_s=2.0) == []
    assert probe.comment == spec.descriptor
    theme = Theme.from_spec(spec)
    alpha = scrim_profile(theme)
    frames = decode_frames(out, {5, 59})
    for i, im in frames.items():
        # the picture is scaled to cover (centre crop): red on the left, green (with its grid) on the right,
        # both under the scrim; corners of the frame show the picture's own colour through the scrim
        for x, y, colour in ((40, 1860, RED), (40, 60, RED)):
            assert near(im.getpixel((x, y)), mix_rgb(theme.scrim, colour, alpha[y]), 14), (i, x, y, im.getpixel((x, y)))
        assert im.getpixel((1040, 1860))[1] > im.getpixel((1040, 1860))[0]  # green side
    # nothing moves in a still-picture render outside the text (no zoom)
    assert mean_diff(frames[5], frames[59], BOTTOM_BAND) < 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bg.png", "img.mp4"]


def test_zoom_moves_the_picture_within_a_scene(tmp_path: Path) -> None:
    image = make_image(tmp_path / "bg.jpg", (1600, 1000))
    # a still colour render and a zooming one of the same spec; zoom is opt-in
    spec = media_spec(image, "listicle", 3.0, body_lines=("one", "two"), zoom=True)
    assert spec.zooms and not replace(spec, zoom=False).zooms and not media_spec(image).zooms
    assert not make_spec("listicle", zoom=True).zooms and not media_spec(Path("c.mp4"), zoom=True).zooms
    out = tmp_path / "zoom.mp4"
    probe = render_variant(spec, out)
    assert_house_format(probe, 3.0)
    scenes, _ = TEMPLATES["listicle"].scenes(spec)
    first = scenes[0]
    f = decode_frames(out, {first.start + first.transition_frames, first.start + first.frames - 1, 89})
    a, b = f[first.start + first.transition_frames], f[first.start + first.frames - 1]
    # the grid on the right of the picture grows between the start and the end of the hook scene ...
    assert mean_diff(a, b, (WIDTH // 2, SAFE_AREA.y1 + 20, WIDTH, HEIGHT)) > 4.0
    # ... about the centre: the frame's centre column stays where it was (red/green edge near x=540)
    row = SAFE_AREA.y1 + 100
    edge = [next(x for x in range(300, 800) if im.getpixel((x, row))[1] > im.getpixel((x, row))[0]) for im in (a, b)]
    assert abs(edge[0] - edge[1]) <= 3, edge
    # the last frame of an odd scene is back at scale 1: no black or garbage edges at any point
    for im in f.values():
        for x, y in ((0, row), (1, row), (WIDTH - 1, row), (700, 0), (700, HEIGHT - 1)):
            assert max(im.getpixel((x, y))) > 20, (x, y, im.getpixel((x, y)))
    # the same spec without zoom holds the picture still
    still = tmp_path / "still.mp4"
    render_variant(replace(spec, zoom=False), still)
    s = decode_frames(still, {first.start + first.transition_frames, first.start + first.frames - 1})
    assert mean_diff(*s.values(), (WIDTH // 2, SAFE_AREA.y1 + 20, WIDTH, HEIGHT)) < 1.0


def test_clip_background_moves_loops_and_drops_its_sound(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "bg.mp4", 1.0)  # 25 frames; the render is 2.5 s, so it plays 2.5 times
    spec = media_spec(clip, "text_hook", 2.5, hook="", body_lines=(), cta="")
    out = tmp_path / "clip.mp4"
    probe = render_variant(spec, out)
    assert_house_format(probe, 2.5)
    f = decode_frames(out, {3, 13, 33, 63})
    band = (0, SAFE_AREA.y0, WIDTH, HEIGHT)
    assert changed_share(f[3], f[13], band) > 0.01  # the background moves (testsrc2's moving parts)
    # ... and comes round again: 1 s later (one clip length) it shows the same clip frame, up to coding noise
    assert changed_share(f[3], f[33], band) < 0.005
    assert changed_share(f[3], f[63], band) < 0.005
    # the clip's tone is gone: the AAC track is silent
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 1
        peak = max(float(abs(fr.to_ndarray()).max()) for fr in c.decode(audio=0))
    assert peak == 0.0


def test_clip_longer_than_the_render_is_cut_and_covers_the_frame(tmp_path: Path) -> None:
    # portrait and landscape clips longer than the render: cut to length, scaled to cover, text over them
    for size in ("1280x720", "720x1280"):
        clip = make_clip(tmp_path / f"bg{size}.mp4", 4.0, size=size, rate=30, audio=False)
        spec = media_spec(clip, "testimonial", 2.0)
        out = tmp_path / f"clip{size}.mp4"
        probe = render_variant(spec, out)
        assert_house_format(probe, 2.0)
        assert probe_video(out).frame_count == 60
        im = decode_frames(out, {30})[30]
        # testsrc2 fills the whole picture: no letterbox bars at the frame's edges
        for x, y in ((0, HEIGHT // 2), (WIDTH - 1, HEIGHT // 2), (WIDTH // 2, 0), (WIDTH // 2, HEIGHT - 1)):
            assert max(im.getpixel((x, y))) > 12, (size, x, y, im.getpixel((x, y)))


@pytest.mark.parametrize("case", ["missing", "not_an_image", "not_a_video", "empty_clip_name", "bad_extension"])
def test_bad_background_media_fails_before_ffmpeg_and_writes_nothing(tmp_path: Path, monkeypatch, case: str) -> None:
    def no_ffmpeg(*a, **k):
        raise AssertionError("ffmpeg must not run")

    monkeypatch.setattr(ffmpeg_mod, "run_ffmpeg", no_ffmpeg)
    media_dir = tmp_path / "media"
    media_dir.mkdir()
    path = {
        "missing": media_dir / "nowhere.jpg",
        "not_an_image": media_dir / "broken.png",
        "not_a_video": media_dir / "broken.mp4",
        "empty_clip_name": media_dir / "empty.mov",
        "bad_extension": media_dir / "anim.gif",
    }[case]
    if case in ("not_an_image", "not_a_video"):
        path.write_bytes(b"\x89PNG not really" * 50 if case == "not_an_image" else b"\x00\x00\x00\x18ftypmp42" * 30)
    elif case in ("empty_clip_name", "bad_extension"):
        path.write_bytes(b"")
    out_dir = tmp_path / "out"
    out = out_dir / "v.mp4"
    with pytest.raises(RenderError) as err:
        render_variant(media_spec(path), out)
    assert path.name in str(err.value)
    assert not out_dir.exists()
    # an existing render at the output path is left as it was
    out_dir.mkdir()
    out.write_bytes(b"previous render")
    with pytest.raises(RenderError):
        render_variant(media_spec(path), out)
    assert [p.name for p in out_dir.iterdir()] == ["v.mp4"] and out.read_bytes() == b"previous render"


def test_spec_checks_background_media_and_zoom(tmp_path: Path) -> None:
    from actp_pipeline.renders.spec import spec_problems

    assert spec_problems(make_spec(background_media="a/b.JPG")) == []
    assert spec_problems(make_spec(background_media="clip.webm", zoom=False)) == []
    assert any("extension" in p for p in spec_problems(make_spec(background_media="x.txt")))
    assert any("extension" in p for p in spec_problems(make_spec(background_media="noext")))
    assert any("background_media" in p for p in spec_problems(make_spec(background_media=42)))
    assert any("background_media" in p for p in spec_problems(make_spec(background_media="")))
    assert any("background_media" in p for p in spec_problems(make_spec(background_media=b"a.png")))
    assert any("zoom" in p for p in spec_problems(make_spec(background_media="a.png", zoom="yes")))
    assert make_spec(background_media=Path("a.PNG")).media_kind == "image"
    assert make_spec(background_media="a.mov").media_kind == "clip" and make_spec().media_kind is None


@pytest.mark.parametrize("fmt", creative.FORMATS)
@pytest.mark.parametrize("case", ["plain", "hostile"])
def test_text_layers_over_media_stay_inside_the_safe_area(tmp_path: Path, fmt: str, case: str) -> None:
    kw = {} if case == "plain" else dict(hook=HOSTILE["long_text"], body_lines=tuple(HOSTILE.values()),
                                         cta=HOSTILE["long_word"] + HOSTILE["emoji"], attribution=HOSTILE["long_text"])
    spec = media_spec(tmp_path / "any.jpg", fmt, 12.0, **kw)
    scenes, intro = TEMPLATES[fmt].scenes(spec)
    assert sum(s.frames for s in scenes) == 360
    inside = (SAFE_AREA.x0, SAFE_AREA.y0, SAFE_AREA.x1, SAFE_AREA.y1)
    for layer in [*(s.image for s in scenes), intro]:
        assert layer.mode == "RGBA" and layer.size == (WIDTH, HEIGHT)
        ink = layer.getchannel("A").getbbox()
        assert ink is not None
        assert inside[0] <= ink[0] and inside[1] <= ink[1] and ink[2] <= inside[2] and ink[3] <= inside[3], ink
    for sc in scenes:
        assert all(SAFE_AREA.contains(b) for b in sc.text_boxes), sc.name


def test_text_layer_matches_drawing_on_an_opaque_colour() -> None:
    """A layer drawn on black and white and un-matted, put over a colour, is what drawing on it would give."""
    bg = (40, 120, 200)

    def draw(cv_draw) -> None:
        cv_draw.rounded_rectangle((100, 100, 600, 400), radius=40, fill=(250, 204, 21))
        cv_draw.text((140, 180), "Hello \u2728 world", font=load_font(70), fill=(17, 24, 39), anchor="la")
        cv_draw.ellipse((500, 700, 900, 1100), fill=(255, 255, 255, 128))  # translucent
        cv_draw.text((120, 1300), "edges", font=load_font(90), fill=(255, 255, 255), anchor="la")

    layer = Canvas.layer()
    draw(layer.draw)
    rgba = layer.result()
    over = Image.new("RGBA", (WIDTH, HEIGHT), (*bg, 255))
    over.alpha_composite(rgba)
    direct = Image.new("RGB", (WIDTH, HEIGHT), bg)
    draw(ImageDraw.Draw(direct, "RGBA"))
    diff = ImageChops.difference(over.convert("RGB"), direct)
    assert max(hi for _, hi in diff.getextrema()) <= 3
    assert rgba.getpixel((0, 0))[3] == 0 and rgba.getpixel((300, 120))[3] == 255
    assert 120 <= rgba.getpixel((700, 900))[3] <= 136


@pytest.mark.parametrize("background", ["#1f2937", "#000000", "#ffffff", "#fde68a", "#2563eb"])
def test_scrim_keeps_text_readable_over_any_picture(tmp_path: Path, background: str) -> None:
    spec = media_spec(tmp_path / "x.png", background=background)
    theme = Theme.from_spec(spec)
    assert theme.text == (255, 255, 255)
    assert worst_case_contrast(theme) >= 4.5  # white text over the scrim over a pure white picture
    assert worst_case_contrast(theme, theme.muted) >= 3.0
    assert contrast_ratio(theme.on_accent, theme.accent) >= 4.5
    assert min(scrim_profile(theme)[SAFE_AREA.y0:]) == theme.scrim_alpha


def test_scrim_measured_on_a_white_picture(tmp_path: Path) -> None:
    white = tmp_path / "white.png"
    Image.new("RGB", (800, 800), (255, 255, 255)).save(white)
    spec = media_spec(white, "text_hook", 2.0, zoom=False)
    bg = background_image(spec)
    theme = Theme.from_spec(spec)
    # everywhere text may go, the picture under the scrim is dark enough for white text
    band = bg.crop((SAFE_AREA.x0, SAFE_AREA.y0, SAFE_AREA.x1, SAFE_AREA.y1))
    brightest = tuple(hi for _, hi in band.getextrema())
    assert contrast_ratio(theme.text, brightest) >= 4.5
    # and in the encoded video too (away from the text: the left margin of the safe area)
    out = tmp_path / "w.mp4"
    render_variant(spec, out)
    im = decode_frames(out, {30})[30]
    px = im.getpixel((SAFE_AREA.x0 + 4, SAFE_AREA.y1 - 10))
    assert contrast_ratio(theme.text, px) >= 4.4, px


def test_media_renders_are_deterministic_and_png_stills_agree(tmp_path: Path, monkeypatch) -> None:
    image = make_image(tmp_path / "bg.webp")
    spec = media_spec(image, "listicle", 2.0, zoom=True)  # zooming picture, slides
    render_variant(spec, tmp_path / "a.mp4", threads=2)
    render_variant(spec, tmp_path / "b.mp4", threads=2)
    assert sha256_file(tmp_path / "a.mp4") == sha256_file(tmp_path / "b.mp4")
    monkeypatch.setattr(ffmpeg_mod, "BMP_MAX_SCENES", 0)  # many scenes: PNG stills (with alpha) instead of raw
    probe = render_variant(spec, tmp_path / "c.mp4", threads=2)
    assert_house_format(probe, 2.0)
    a, c = decode_frames(tmp_path / "a.mp4", {10, 40, 59}), decode_frames(tmp_path / "c.mp4", {10, 40, 59})
    for i in a:
        # swscale rounds BGR (BMP) and RGB (PNG) input differently by up to 1 level, which x264 turns into
        # noise of a level or two over this busy grid; a wrong layer or zoom would be tens of levels off
        assert mean_diff(a[i], c[i]) < 3.0
