"""The Remotion adapter: a variant rendered by a user's own Remotion project, checked like a built-in render.

    renderer = RemotionRenderer(Path("~/my-remotion-project").expanduser())
    if (why := remotion_available(renderer.project_dir)) is None:
        probe = renderer.render(RenderSpec(...), Path("out/v_123.mp4"))

The project must have Remotion installed (`npm i remotion @remotion/cli react react-dom`) and register a
composition (default id "Variant") that reads the variant from its input props: variant_id, hook,
body_lines, cta, format, length_s, background, accent, descriptor, attribution, plus the house format
(fps 30, width 1080, height 1920) and durationInFrames, which the composition should adopt through
calculateMetadata(). Nothing forces the composition's size or length from outside: the probe after the
render is what decides whether it matches the house format.

What the adapter does around `npx remotion render`:
- the props go in a JSON file (never a shell string; every argument is one argv item);
- the browser is the system Chromium (`--browser-executable`), so Remotion never tries to download its
  own headless shell; `$ACTP_CHROMIUM` picks another one;
- `npx --no` refuses to fetch a package that is not installed in the project;
- `--color-space=bt709` makes Remotion encode limited-range yuv420p (its default is full-range yuvj420p);
  `--enforce-audio-track` gives a silent AAC track to compositions without sound;
- Remotion writes a temporary .mp4 next to the output; a stream-copy remux with the imageio-ffmpeg binary
  then replaces Remotion's own metadata by the descriptor in the `comment` tag (Remotion's `--metadata
  key=value` flag refuses values containing '=', which JSON may have), puts the index at the front and
  drops the edit lists that x264's B-frame delay made (negative composition offsets instead), so the file
  passes the same platform checks as a built-in render;
- the remuxed file is probed and checked like render_variant's output and only then moved into place
  with os.replace; on any failure both temporary files are removed and `out_path` is left as it was;
- Remotion, npm and Chromium run in their own process group, killed as a whole on a timeout.
No dagster here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from actp_pipeline.chromium import CHROMIUM_ENV, default_chromium
from actp_pipeline.renders.checks import VideoProbe, accept_render
from actp_pipeline.renders.scratch import work_dir
from actp_pipeline.renders.ffmpeg import _ff_path, _tail, _unlink, ffmpeg_exe, run_ffmpeg
from actp_pipeline.renders.spec import FPS, HEIGHT, WIDTH, RenderError, RenderSpec, frame_count, spec_problems

REMUX_TIMEOUT_S = 120.0


def input_props(spec: RenderSpec) -> dict:
    """The input props a Remotion composition gets for `spec` (JSON-serialisable)."""
    return {
        "variant_id": spec.variant_id,
        "background_media": spec.background_media,
        "zoom": spec.zoom,
        "hook": spec.hook,
        "body_lines": list(spec.body_lines),
        "cta": spec.cta,
        "format": spec.format,
        "length_s": float(spec.length_s),
        "background": spec.background,
        "accent": spec.accent,
        "descriptor": spec.descriptor,
        "attribution": spec.attribution,
        "fps": FPS,
        "width": WIDTH,
        "height": HEIGHT,
        "durationInFrames": frame_count(float(spec.length_s)),
    }


def _find_installed(project_dir: Path, package: str) -> Path | None:
    """node_modules/<package> in project_dir or a parent (Node's module resolution), or None."""
    for d in (project_dir, *project_dir.parents):
        candidate = d / "node_modules" / package / "package.json"
        if candidate.is_file():
            return candidate.parent
    return None


def _executable(name: str) -> str | None:
    """Full path of an executable given as a name on PATH or as a path; None if there is none."""
    if os.sep in name:
        return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    return shutil.which(name)


def remotion_available(project_dir: Path | str, *, npx: str = "npx", browser_executable: str | None = None) -> str | None:
    """None when a Remotion render can run in `project_dir`, otherwise the reason it cannot."""
    project = Path(project_dir).expanduser()
    if not project.is_dir():
        return f"Remotion project directory {project} does not exist"
    if _executable(npx) is None:
        return f"{npx!r} not found (install Node.js and npm)"
    if _find_installed(project, "remotion") is None:
        return f"no node_modules/remotion in {project} (run `npm i remotion @remotion/cli react react-dom` there)"
    if _find_installed(project, "@remotion/cli") is None:
        return f"no node_modules/@remotion/cli in {project} (it provides the `remotion` command: npm i @remotion/cli)"
    browser = browser_executable or default_chromium()
    if _executable(browser) is None:
        return f"no Chromium at {browser} (install chromium or set ${CHROMIUM_ENV})"
    return None


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class RemotionRenderer:
    """Renders variants with `npx remotion render` in a Remotion project; same contract as render_variant."""

    project_dir: Path
    composition: str = "Variant"
    entry_point: str | None = None  # e.g. "src/index.ts"; None lets Remotion find it (config, src/index.ts, ...)
    npx: str = "npx"
    browser_executable: str = field(default_factory=default_chromium)
    concurrency: int | None = None  # Remotion's --concurrency (browser tabs rendering frames in parallel)
    timeout_s: float = 600
    extra_args: tuple[str, ...] = ()  # appended verbatim, e.g. ("--x264-preset=veryfast",)
    chrome_mode: str | None = None  # Remotion's --chrome-mode; None keeps its default
    log_level: str = "warn"  # Remotion's --log: progress lines only clutter the captured output

    def __post_init__(self) -> None:
        self.project_dir = Path(self.project_dir).expanduser()
        self.extra_args = tuple(self.extra_args)

    def command(self, spec: RenderSpec, out_path: Path, props_path: Path) -> list[str]:
        """The argv that renders `spec` (its props already written to `props_path`) to `out_path`."""
        cmd = [self.npx, "--no", "remotion", "render"]
        if self.entry_point:
            cmd.append(self.entry_point)
        cmd += [self.composition, str(Path(out_path).absolute())]
        cmd += [
            f"--props={Path(props_path).absolute()}",
            f"--browser-executable={self.browser_executable}",
            "--codec=h264",
            "--audio-codec=aac",
            "--pixel-format=yuv420p",
            "--color-space=bt709",
            "--enforce-audio-track",
            "--overwrite",
            f"--log={self.log_level}",
        ]
        if self.concurrency:
            cmd.append(f"--concurrency={int(self.concurrency)}")
        if self.chrome_mode:
            cmd.append(f"--chrome-mode={self.chrome_mode}")
        cmd += list(self.extra_args)
        return cmd

    def _run(self, cmd: list[str]) -> None:
        """Run Remotion in its own process group; RenderError with its output tail on failure or timeout."""
        try:
            proc = subprocess.Popen(cmd, cwd=self.project_dir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            raise RenderError(f"cannot run {cmd[0]!r}: {exc}") from exc
        try:
            out, err = proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, err = proc.communicate()
            raise RenderError(f"remotion render timed out after {self.timeout_s:g} s: {_tail(err or out)}") from None
        except BaseException:
            _kill_group(proc)
            proc.wait()
            raise
        finally:
            # Chromium or a bundler may outlive npx; nothing of this render's group stays behind
            _kill_group(proc)
        if proc.returncode != 0:
            raise RenderError(f"remotion render exited with status {proc.returncode}: {_tail(err or out)}")

    def _remux(self, src: Path, dst: Path, descriptor: str) -> None:
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y",
               "-i", _ff_path(src), "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy",
               "-map_metadata", "-1", "-map_chapters", "-1"]
        if descriptor:
            cmd += ["-metadata", f"comment={descriptor}"]
        cmd += ["-fflags", "+bitexact", "-movflags", "+faststart+negative_cts_offsets", "-use_editlist", "0",
                "-f", "mp4", _ff_path(dst)]
        run_ffmpeg(cmd, REMUX_TIMEOUT_S)

    def render(self, spec: RenderSpec, out_path: Path) -> VideoProbe:
        """Render `spec` with Remotion to a checked H.264/AAC MP4 at `out_path` and return its probe.

        Same guarantees as render_variant: `out_path` either receives a complete render that passed the
        checks (house format, duration, frame count, descriptor read back) or is left as it was."""
        problems = spec_problems(spec)
        if problems:
            raise RenderError(f"cannot render {spec.variant_id!r}: " + "; ".join(problems))
        out_path = Path(out_path).absolute()
        out_path.parent.mkdir(parents=True, exist_ok=True)
        total = frame_count(float(spec.length_s))
        tag = uuid.uuid4().hex[:12]
        # Remotion picks the container from the extension, so its temporary file must end in .mp4
        raw = out_path.with_name(f".{out_path.stem}.{tag}.remotion.mp4")
        tmp = out_path.with_name(f".{out_path.name}.{tag}.part")
        try:
            with work_dir(out_path.parent, "remotion") as workdir:
                props_path = workdir / "props.json"
                props_path.write_text(json.dumps(input_props(spec), ensure_ascii=False), encoding="utf-8")
                self._run(self.command(spec, raw, props_path))
            if not raw.is_file():
                raise RenderError(f"remotion render of {spec.variant_id!r} exited cleanly but wrote no file")
            self._remux(raw, tmp, spec.descriptor)
            _unlink(raw)
            probe = accept_render(tmp, out_path, total, spec.descriptor, f"remotion render of {spec.variant_id!r}")
        except BaseException:
            _unlink(raw)
            _unlink(tmp)
            raise
        return probe
