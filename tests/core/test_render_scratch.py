"""What killed writers leave is removed (issue 9, class 6): a render killed with SIGKILL leaves its work
directory under <media>/.scratch and a .part file; a killed Parquet write leaves a .tmp file. The sweeps run
by render_due (start of every batch) and by the local_ops reaper remove them, never a live writer's."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from actp_pipeline.renders import scratch
from actp_pipeline.renders.scratch import PART_MAX_AGE_S, SCRATCH, sweep, work_dir
from actp_pipeline.store.warehouse import TEMP_MAX_AGE_S, Warehouse

ROOT = Path(__file__).resolve().parents[2]

RENDER_FOREVER = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.core.test_renders import make_spec
from actp_pipeline.renders.ffmpeg import render_variant
render_variant(make_spec(length=60.0), Path({out!r}))
"""


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def test_a_render_killed_mid_work_leaves_nothing_after_the_sweep(tmp_path):
    media = tmp_path / "media"
    child = subprocess.Popen([sys.executable, "-c", RENDER_FOREVER.format(root=str(ROOT), out=str(media / "v.mp4"))],
                             cwd=ROOT)
    scratch = media / SCRATCH
    deadline = time.monotonic() + 120
    while not (scratch.is_dir() and _size(scratch) > 1_000_000) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _size(scratch) > 1_000_000, "the render never wrote its work files"
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL
    left = [p.name for p in scratch.iterdir()]
    assert len(left) == 1 and left[0].startswith("actp-render-")  # what kill -9 leaves behind
    later = time.time() + PART_MAX_AGE_S + 1  # and any .part file is past its age by then
    removed = sweep(media, now=later)
    assert removed["work_dirs"] == 1 and list(scratch.iterdir()) == []
    assert not list(media.glob(".*.part"))


def test_the_sweep_keeps_live_work(tmp_path):
    media = tmp_path / "media"
    with work_dir(media) as mine:  # this process is alive: its work dir stays
        (mine / "still.bmp").write_bytes(b"x" * 1000)
        part = media / ".v.mp4.abc123.part"
        part.write_bytes(b"partial")  # fresh: a render may still be writing it
        assert sweep(media) == {"work_dirs": 0, "part_files": 0}
        assert (mine / "still.bmp").exists() and part.exists()
        old = time.time() - PART_MAX_AGE_S - 10
        os.utime(part, (old, old))
        assert sweep(media) == {"work_dirs": 0, "part_files": 1} and not part.exists()
    assert not (media / SCRATCH).exists()  # removed on a normal exit, the scratch folder too when empty


def test_killed_warehouse_writes_leave_no_tmp_files(tmp_path):
    wh = Warehouse(tmp_path / "warehouse")
    folder = tmp_path / "warehouse" / "scores" / "2026-06-01"
    folder.mkdir(parents=True)
    dead = folder / ".data.parquet.0123abcd.tmp"
    live = folder / ".data.parquet.4567ef01.tmp"
    dead.write_bytes(b"half a parquet file")
    live.write_bytes(b"being written")
    old = time.time() - TEMP_MAX_AGE_S - 10
    os.utime(dead, (old, old))
    assert wh.sweep_temp() == 1
    assert not dead.exists() and live.exists()


def test_the_local_ops_reaper_sweeps_them(tmp_path):
    import dagster as dg

    from local_ops.sensors import worker_liveness_sensor
    from resources import PlatformResource, StoreResource

    store = StoreResource(data_dir=str(tmp_path))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs: its work dir is an orphan
    orphan = store.media_dir / SCRATCH / f"actp-render-{scratch._host()}-{gone.pid}-x1"
    orphan.mkdir(parents=True)
    (orphan / "scene000.bmp").write_bytes(b"x" * 1000)
    tmp = store.warehouse().root / "scores" / "__all__" / ".data.parquet.dead.tmp"
    tmp.parent.mkdir(parents=True)
    tmp.write_bytes(b"half")
    old = time.time() - TEMP_MAX_AGE_S - 10
    os.utime(tmp, (old, old))
    res = {"store": store, "platform": PlatformResource(base_url="http://127.0.0.1:9", api_key="k")}
    with dg.instance_for_test() as instance:
        worker_liveness_sensor(dg.build_sensor_context(instance=instance, resources=res))
    assert not orphan.exists() and not tmp.exists()
