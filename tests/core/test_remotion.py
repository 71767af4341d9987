"""The Remotion adapter: the argv it builds, and its process handling, remux, checks and atomicity run for
real against a fake `npx` that behaves like `npx remotion render` (it reads the props file and writes an
MP4 with the imageio-ffmpeg binary). A real Remotion render runs when $ACTP_REMOTION_TEST_PROJECT points to
a Remotion project with a "Variant" composition (examples/remotion/ is one, after `npm install`)."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from actp_pipeline.renders import (
    FPS,
    HEIGHT,
    WIDTH,
    RemotionRenderer,
    RenderError,
    RenderSpec,
    check_video,
    ffmpeg_exe,
    probe_video,
    remotion_available,
)
from actp_pipeline.chromium import CHROMIUM_ENV, DEFAULT_CHROMIUM
from actp_pipeline.renders.remotion import input_props

DESCRIPTOR = json.dumps({"actp": {"variant_id": "v_rm", "hook": "a=b & 'c' \"d\" ; $(x)", "format": "text_hook"}},
                        ensure_ascii=False)
SPEC = RenderSpec(
    variant_id="v_rm",
    hook="Stop scrolling; $(rm -rf /) `x` 'q'",
    body_lines=("line one = 1", "zwei — drei ✓"),
    cta="Tap the link",
    format="text_hook",
    length_s=2.0,
    background="#102030",
    accent="#ffcc00",
    descriptor=DESCRIPTOR,
)

# A stand-in for `npx`: accepts `npx --no remotion render [entry] <composition> <out> --flag=value ...` the way
# the Remotion CLI does, logs what it got, reads the props file and encodes a clip of the size and length the
# props ask for (B-frames and an edit list, like Remotion's x264 output). FAKE_REMOTION_MODE picks a
# misbehaviour: fail, hang (with a grandchild), wrongsize, nofile.
FAKE_NPX = r'''#!{python}
import json, os, subprocess, sys, time
log = os.environ.get("FAKE_REMOTION_LOG")
args = sys.argv[1:]
if log:
    with open(log, "w") as f:
        json.dump({{"argv": args, "cwd": os.getcwd()}}, f)
if args[:3] != ["--no", "remotion", "render"]:
    sys.exit("fake npx: unexpected command " + repr(args))
flags = dict(a[2:].split("=", 1) if "=" in a else (a[2:], True) for a in args[3:] if a.startswith("--"))
positional = [a for a in args[3:] if not a.startswith("--")]
out = positional[-1]
if not out.endswith(".mp4"):
    sys.exit("fake npx: Remotion infers the container from the extension; got " + out)
props = json.load(open(flags["props"], encoding="utf-8"))
if log:
    with open(log + ".props", "w", encoding="utf-8") as f:
        json.dump(props, f, ensure_ascii=False)
mode = os.environ.get("FAKE_REMOTION_MODE", "ok")
print("Rendered 1/%d" % props["durationInFrames"])
if mode == "fail":
    sys.stderr.write("x" * 5000 + "\n Error  Could not find composition with ID " + positional[-2] + "\n")
    sys.exit(1)
if mode == "hang":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with open(os.environ["FAKE_REMOTION_PIDS"], "w") as f:
        f.write("%d %d" % (os.getpid(), child.pid))
    sys.stderr.write("Bundling...\n"); sys.stderr.flush()
    time.sleep(60)
if mode == "nofile":
    sys.exit(0)
w, h = props["width"], props["height"]
if mode == "wrongsize":
    w, h = 720, 1280
n, fps = props["durationInFrames"], props["fps"]
cmd = [{ffmpeg!r}, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
       "-f", "lavfi", "-i", "color=c=%s:s=%dx%d:r=%d" % (props["background"].replace("#", "0x"), w, h, fps),
       "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo",
       "-frames:v", str(n), "-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2",
       "-x264-params", "b-adapt=0", "-pix_fmt", "yuv420p", "-color_range", "tv",
       "-c:a", "aac", "-metadata", "comment=Made with a fake Remotion", "-f", "mp4", "file:" + out]
sys.exit(subprocess.run(cmd).returncode)
'''


@pytest.fixture
def fake_npx(tmp_path, monkeypatch):
    script = tmp_path / "bin" / "npx"
    script.parent.mkdir()
    script.write_text(FAKE_NPX.format(python=sys.executable, ffmpeg=ffmpeg_exe()))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("FAKE_REMOTION_LOG", str(tmp_path / "npx-log.json"))
    monkeypatch.delenv("FAKE_REMOTION_MODE", raising=False)
    return script


@pytest.fixture
def project(tmp_path):
    d = tmp_path / "project"
    for pkg in ("remotion", "@remotion/cli"):
        (d / "node_modules" / pkg).mkdir(parents=True)
        (d / "node_modules" / pkg / "package.json").write_text(json.dumps({"name": pkg, "version": "4.0.0"}))
    return d


def _renderer(project, fake_npx, **kw) -> RemotionRenderer:
    return RemotionRenderer(project, npx=str(fake_npx), browser_executable="/opt/chromium/chrome", **kw)


def _logged(tmp_path) -> tuple[dict, dict]:
    return (json.loads((tmp_path / "npx-log.json").read_text()),
            json.loads((tmp_path / "npx-log.json.props").read_text(encoding="utf-8")))


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


# --- the command -----------------------------------------------------------------------------------------


def test_command_is_an_argv_with_props_file_browser_and_composition(tmp_path):
    r = RemotionRenderer(tmp_path, composition="Ad", entry_point="src/index.ts", browser_executable="/x/chromium",
                         concurrency=3, extra_args=("--x264-preset=veryfast",))
    out = tmp_path / "o u t" / "v.mp4"
    cmd = r.command(SPEC, out, tmp_path / "props.json")
    assert isinstance(cmd, list) and all(isinstance(a, str) for a in cmd)
    assert cmd[:7] == ["npx", "--no", "remotion", "render", "src/index.ts", "Ad", str(out)]
    assert f"--props={tmp_path / 'props.json'}" in cmd
    assert "--browser-executable=/x/chromium" in cmd
    for flag in ("--codec=h264", "--audio-codec=aac", "--color-space=bt709", "--enforce-audio-track",
                 "--overwrite", "--concurrency=3"):
        assert flag in cmd
    assert cmd[-1] == "--x264-preset=veryfast"
    # nothing from the spec reaches the argv: it all goes through the props file
    assert not any(SPEC.hook in a or "Tap the link" in a or "actp" in a for a in cmd)


def test_command_without_entry_point_lets_remotion_find_it(tmp_path):
    cmd = RemotionRenderer(tmp_path).command(SPEC, Path("rel/v.mp4"), Path("p.json"))
    assert cmd[4:6] == ["Variant", str(Path("rel/v.mp4").absolute())]
    assert f"--props={Path('p.json').absolute()}" in cmd
    assert not any(a.startswith("--concurrency") for a in cmd)


def test_browser_defaults_to_debian_chromium_and_env_overrides(tmp_path, monkeypatch):
    monkeypatch.delenv(CHROMIUM_ENV, raising=False)
    assert RemotionRenderer(tmp_path).browser_executable == DEFAULT_CHROMIUM == "/usr/lib/chromium/chromium"
    monkeypatch.setenv(CHROMIUM_ENV, "/opt/chrome/chrome")
    assert RemotionRenderer(tmp_path).browser_executable == "/opt/chrome/chrome"
    assert RemotionRenderer(tmp_path, browser_executable="/explicit").browser_executable == "/explicit"


def test_input_props_carry_the_variant_and_house_format():
    props = input_props(SPEC)
    assert props == {
        "variant_id": "v_rm", "hook": SPEC.hook, "body_lines": list(SPEC.body_lines), "cta": "Tap the link",
        "format": "text_hook", "length_s": 2.0, "background": "#102030", "accent": "#ffcc00",
        "descriptor": DESCRIPTOR, "attribution": "", "background_media": None, "zoom": False, "fps": FPS, "width": WIDTH, "height": HEIGHT,
        "durationInFrames": 60,
    }
    assert json.loads(json.dumps(props)) == props


# --- render() against the fake npx ----------------------------------------------------------------------


def test_render_runs_remotion_remuxes_and_checks(tmp_path, project, fake_npx):
    out = tmp_path / "media" / "v_rm.mp4"
    probe = _renderer(project, fake_npx, entry_point="src/index.ts").render(SPEC, out)
    argv, props = _logged(tmp_path)
    assert argv["cwd"] == str(project)
    assert argv["argv"][:6] == ["--no", "remotion", "render", "src/index.ts", "Variant", argv["argv"][5]]
    assert argv["argv"][5].endswith(".remotion.mp4") and Path(argv["argv"][5]).parent == out.parent
    assert "--browser-executable=/opt/chromium/chrome" in argv["argv"]
    assert props == input_props(SPEC)  # the props file held the variant, unicode intact
    # the props file was temporary
    props_arg = next(a for a in argv["argv"] if a.startswith("--props="))
    assert not Path(props_arg.split("=", 1)[1]).exists()
    # the output is in place, checked, and carries the descriptor instead of Remotion's comment
    assert out.is_file() and _leftovers(out.parent) == []
    assert probe == probe_video(out)
    assert (probe.width, probe.height, probe.fps, probe.frame_count) == (WIDTH, HEIGHT, FPS, 60)
    assert probe.comment == DESCRIPTOR
    assert check_video(probe, expected_duration_s=2.0) == []
    # the remux put the index first and removed the B-frame edit list: platform checks pass too
    assert probe.moov_first is True and probe.edit_lists == 0
    for platform in ("tiktok", "instagram", "youtube"):
        assert [p for p in check_video(probe, platform) if "shorter than" not in p] == []


def test_render_without_descriptor_drops_remotions_comment(tmp_path, project, fake_npx):
    out = tmp_path / "v.mp4"
    probe = _renderer(project, fake_npx).render(replace(SPEC, descriptor=""), out)
    assert probe.comment is None


def test_failed_remotion_raises_with_stderr_tail_and_leaves_out_path_alone(tmp_path, project, fake_npx,
                                                                          monkeypatch):
    monkeypatch.setenv("FAKE_REMOTION_MODE", "fail")
    out = tmp_path / "media" / "v_rm.mp4"
    out.parent.mkdir()
    out.write_bytes(b"previous render")
    with pytest.raises(RenderError) as err:
        _renderer(project, fake_npx).render(SPEC, out)
    msg = str(err.value)
    assert "exited with status 1" in msg and "Could not find composition with ID Variant" in msg
    assert len(msg) < 2200  # a tail, not the whole output
    assert out.read_bytes() == b"previous render"
    assert _leftovers(out.parent) == []


def test_failure_leaves_no_file_when_there_was_none(tmp_path, project, fake_npx, monkeypatch):
    monkeypatch.setenv("FAKE_REMOTION_MODE", "fail")
    out = tmp_path / "v.mp4"
    with pytest.raises(RenderError):
        _renderer(project, fake_npx).render(SPEC, out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.suffix in (".mp4", ".part")] == []


def test_wrong_size_output_is_rejected_by_the_checks(tmp_path, project, fake_npx, monkeypatch):
    monkeypatch.setenv("FAKE_REMOTION_MODE", "wrongsize")
    out = tmp_path / "media" / "v_rm.mp4"
    with pytest.raises(RenderError, match=r"failed its checks: .*frame size is 720x1280, expected 1080x1920"):
        _renderer(project, fake_npx).render(SPEC, out)
    assert not out.exists() and _leftovers(out.parent) == []


def test_wrong_length_output_is_rejected(tmp_path, project, fake_npx, monkeypatch):
    # like a composition that ignores durationInFrames: the fake renders what the props say, so hand it
    # props asking for half the frames the spec needs
    import actp_pipeline.renders.remotion as rm

    monkeypatch.setattr(rm, "input_props", lambda spec: {**input_props(spec), "durationInFrames": 30})
    with pytest.raises(RenderError, match=r"30 video frames, expected 60"):
        _renderer(project, fake_npx).render(SPEC, tmp_path / "v.mp4")
    assert list(tmp_path.glob("*.mp4")) == [] and list(tmp_path.glob(".*")) == []


def test_clean_exit_without_output_is_an_error(tmp_path, project, fake_npx, monkeypatch):
    monkeypatch.setenv("FAKE_REMOTION_MODE", "nofile")
    with pytest.raises(RenderError, match="wrote no file"):
        _renderer(project, fake_npx).render(SPEC, tmp_path / "v.mp4")


def _gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie counts: nothing may reap orphans in a container)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return "\nState:\tZ" in status


def test_timeout_kills_the_whole_process_group(tmp_path, project, fake_npx, monkeypatch):
    pids_file = tmp_path / "pids"
    monkeypatch.setenv("FAKE_REMOTION_MODE", "hang")
    monkeypatch.setenv("FAKE_REMOTION_PIDS", str(pids_file))
    out = tmp_path / "v.mp4"
    started = time.monotonic()
    with pytest.raises(RenderError, match=r"timed out after 2 s: .*Bundling"):
        _renderer(project, fake_npx, timeout_s=2).render(SPEC, out)
    assert time.monotonic() - started < 15
    npx_pid, child_pid = map(int, pids_file.read_text().split())
    deadline = time.monotonic() + 5
    while not (_gone(npx_pid) and _gone(child_pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(npx_pid) and _gone(child_pid)  # the grandchild (think: Chromium) died with it
    assert not out.exists() and list(tmp_path.glob(".*")) == []


def test_missing_npx_is_a_render_error(tmp_path, project):
    r = RemotionRenderer(project, npx=str(tmp_path / "no-such-npx"))
    with pytest.raises(RenderError, match="cannot run"):
        r.render(SPEC, tmp_path / "v.mp4")
    assert list(tmp_path.glob("*.mp4")) == [] and list(tmp_path.glob(".*")) == []


def test_bad_spec_is_refused_before_running_anything(tmp_path, project, fake_npx):
    with pytest.raises(RenderError, match="unknown format"):
        _renderer(project, fake_npx).render(replace(SPEC, format="opera"), tmp_path / "v.mp4")
    assert not (tmp_path / "npx-log.json").exists()


# --- remotion_available -----------------------------------------------------------------------------------


def test_remotion_available_reasons(tmp_path, project, fake_npx):
    chrome = tmp_path / "chrome"
    chrome.write_text("#!/bin/sh\n")
    chrome.chmod(0o755)
    npx = str(fake_npx)
    assert remotion_available(project, npx=npx, browser_executable=str(chrome)) is None
    assert "does not exist" in remotion_available(tmp_path / "nope", npx=npx, browser_executable=str(chrome))
    assert "not found" in remotion_available(project, npx=str(tmp_path / "no-npx"), browser_executable=str(chrome))
    assert "not found" in remotion_available(project, npx="actp-no-such-npx-anywhere", browser_executable=str(chrome))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no node_modules/remotion" in remotion_available(empty, npx=npx, browser_executable=str(chrome))
    (empty / "node_modules" / "remotion").mkdir(parents=True)
    (empty / "node_modules" / "remotion" / "package.json").write_text("{}")
    assert "@remotion/cli" in remotion_available(empty, npx=npx, browser_executable=str(chrome))
    assert "no Chromium at" in remotion_available(project, npx=npx, browser_executable=str(tmp_path / "nochrome"))
    # a project inside a workspace finds the workspace's node_modules, as Node does
    nested = project / "packages" / "ads"
    nested.mkdir(parents=True)
    assert remotion_available(nested, npx=npx, browser_executable=str(chrome)) is None


def test_remotion_available_uses_the_chromium_env(tmp_path, project, fake_npx, monkeypatch):
    monkeypatch.setenv(CHROMIUM_ENV, str(tmp_path / "missing-chrome"))
    assert "missing-chrome" in remotion_available(project, npx=str(fake_npx))


# --- a real Remotion render (opt-in) ----------------------------------------------------------------------

REAL_PROJECT = os.environ.get("ACTP_REMOTION_TEST_PROJECT")


@pytest.mark.slow
@pytest.mark.skipif(not REAL_PROJECT, reason="set ACTP_REMOTION_TEST_PROJECT to a Remotion project with a "
                    "'Variant' composition (e.g. examples/remotion after `npm install`) to render for real")
def test_real_remotion_render(tmp_path):
    project = Path(REAL_PROJECT)
    why = remotion_available(project)
    if why:
        pytest.skip(f"Remotion cannot run here: {why}")
    out = tmp_path / "media" / "v_rm.mp4"
    spec = replace(SPEC, length_s=3.0)
    probe = RemotionRenderer(project).render(spec, out)
    assert out.is_file() and _leftovers(out.parent) == []
    assert (probe.codec, probe.width, probe.height, probe.fps, probe.frame_count) == ("h264", WIDTH, HEIGHT, FPS, 90)
    assert probe.pix_fmt == "yuv420p" and probe.audio_codec == "aac"
    assert probe.comment == DESCRIPTOR
    for platform in ("tiktok", "instagram", "youtube"):
        assert check_video(probe, platform, expected_duration_s=3.0) == []
