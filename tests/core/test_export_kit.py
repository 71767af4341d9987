"""The campaign kit: approved, rendered videos with captions and schedule.csv, reproducible to the byte."""

import csv
import datetime as dt
import io
import json
import zipfile

import pandas as pd
import pytest
from click.testing import CliRunner

from actp_pipeline import approvals
from actp_pipeline.approvals import decisions
from actp_pipeline.cli import actp
from actp_pipeline.export.kit import NOT_APPROVED, approved_variant_ids, export_kit
from actp_pipeline.export.schedule import SCHEDULE_COLUMNS, parse_timezones
from actp_pipeline.publish.publish_schedule import Target, idempotency_key
from actp_pipeline.renders.checks import probe_video
from actp_pipeline.store import connect_store, schema
from actp_pipeline.store.warehouse import Warehouse
from tests.media import make_mp4

NOW = dt.datetime(2026, 6, 3, 7, 30)
TARGETS = [Target("tiktok", "main"), Target("instagram", "brand")]


def _variant(vid: str, round_id: str = "r1", **kw) -> dict:
    return {"variant_id": vid, "round_id": round_id, "topic": "skincare", "hook_pattern": "question", "angle": "pain_point",
            "cta_style": "save", "format": "listicle", "length_s": 15, "hashtags": ["#skincare", "#glow"],
            "hook": f"hook of {vid}", "caption": f"Caption of {vid}\nSave this", "arm": "control", **kw}


def _job(conn, vid: str, status: str, path=None, checksum=None, at=NOW):
    conn.execute(schema.render_jobs.insert().values(
        variant_id=vid, payload={"variant_id": vid}, output_path=str(path) if path else None, checksum=checksum,
        status=status, attempts=1, max_attempts=3, available_at=at, created_at=at, updated_at=at,
        last_error="ffmpeg exited 1" if status == "failed" else None))


@pytest.fixture
def world(tmp_path):
    """A round of five variants: two approved and rendered, one rejected, one approved but failed to render,
    one approved whose file is gone; the first already has a slot and a tracked link on tiktok:main."""
    from actp_pipeline.hooks.links import create_link
    from actp_pipeline.renders.checks import sha256_file

    data = tmp_path / "data"
    data.mkdir()
    engine = connect_store(f"sqlite:///{data / 'store.db'}")
    wh = Warehouse(data / "warehouse")
    ids = ["v_a", "v_b", "v_rejected", "v_failed", "v_gone"]
    old = pd.DataFrame([_variant("v_old", round_id="r0")])
    wh.write("variants", pd.concat([old, pd.DataFrame([_variant(v) for v in ids])], ignore_index=True))
    media = data / "media"
    media.mkdir()
    a = make_mp4(media / "v_a.mp4", seconds=1.0, color="red")
    b = make_mp4(media / "v_b.mp4", seconds=1.0, color="blue")
    key = idempotency_key("v_a", TARGETS[0])
    with engine.begin() as conn:
        decisions.create(conn, [{"scope": "content", "subject_id": v, "variant_id": v} for v in [*ids, "v_old"]]
                         + [{"scope": "strategy", "subject_id": "*", "variant_id": None}], by="test", reason="new round")
    approvals.decide(engine, "strategy", "*", "approved", by="ann", reason="ok")
    for v in ids:
        approvals.decide(engine, "content", v, "rejected" if v == "v_rejected" else "approved", by="ann", reason="ok")
    with engine.begin() as conn:
        _job(conn, "v_a", "succeeded", a, sha256_file(a))
        _job(conn, "v_b", "succeeded", b, sha256_file(b), at=NOW + dt.timedelta(minutes=5))
        _job(conn, "v_failed", "failed")
        _job(conn, "v_gone", "succeeded", media / "v_gone.mp4", "0" * 64)
        conn.execute(schema.publish_queue.insert().values(
            variant_id="v_a", platform="tiktok", account="main", idempotency_key=key,
            scheduled_at=dt.datetime(2026, 6, 3, 18, 0), payload={}, status="queued", attempts=0, max_attempts=3,
            available_at=NOW, created_at=NOW, updated_at=NOW))
        create_link(conn, idempotency_key=key, variant_id="v_a", platform="tiktok", account="main",
                    campaign="skincare", destination="https://shop.example/serum", now=NOW)
    return engine, wh, data, {"a": a, "b": b}


def _read(path):
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}, zf.infolist()


def test_kit_holds_the_approved_rendered_videos_captions_and_schedule(world, tmp_path):
    engine, wh, _, videos = world
    assert approved_variant_ids(engine) == {"v_a", "v_b", "v_failed", "v_gone"}
    kit = export_kit(engine, wh, tmp_path / "out", targets=TARGETS, hooks_url="https://go.example",
                     timezones=parse_timezones(["tiktok:main=Europe/Berlin"]))
    assert kit.path.name == "actp-kit-r1.zip" and kit.campaign == "r1" and kit.exported == ["v_a", "v_b"]
    files, infos = _read(kit.path)
    root = "actp-kit-r1/"
    assert files[root + "videos/v_a.mp4"] == videos["a"].read_bytes()
    assert files[root + "videos/v_b.mp4"] == videos["b"].read_bytes()
    with zipfile.ZipFile(kit.path) as zf:  # the video in the kit decodes (PyAV), straight out of the archive
        zf.extract(root + "videos/v_a.mp4", tmp_path / "unzipped")
    probe = probe_video(tmp_path / "unzipped" / root / "videos/v_a.mp4")
    assert probe.codec == "h264" and (probe.width, probe.height) == (108, 192)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.filename for i in infos} == {root + n for n in (
        "MANIFEST.json", "schedule.csv", "videos/v_a.mp4", "videos/v_b.mp4", "captions/tiktok-main/v_a.txt",
        "captions/tiktok-main/v_b.txt", "captions/instagram-brand/v_a.txt", "captions/instagram-brand/v_b.txt")}
    rows = list(csv.DictReader(io.StringIO(files[root + "schedule.csv"].decode())))
    assert list(rows[0]) == SCHEDULE_COLUMNS and len(rows) == 4
    first = next(r for r in rows if r["variant_id"] == "v_a" and r["account"] == "main")
    assert first["post_at_utc"] == "2026-06-03T18:00:00Z"  # the loop's own slot is kept
    assert first["post_at_local"] == "2026-06-03T20:00:00+02:00" and first["timezone"] == "Europe/Berlin"
    assert first["tracked_link"].startswith("https://go.example/r/") and first["hashtags"] == "#skincare #glow"
    assert first["video"] == "videos/v_a.mp4" and first["arm"] == "control" and "hook_pattern=question" in first["factors"]
    insta = [r for r in rows if r["account"] == "brand"]
    assert all(r["post_at_local"] == "" and r["tracked_link"] == "" for r in insta)
    assert all(r["post_at_utc"] > "2026-06-03T07:35:00Z" for r in insta)  # planned after the newest render
    caption = files[root + "captions/tiktok-main/v_a.txt"].decode()
    assert "Caption of v_a" in caption and "#skincare #glow" in caption and first["tracked_link"] in caption


def test_left_out_variants_are_in_the_manifest_with_their_reason(world, tmp_path):
    engine, wh, _, _ = world
    kit = export_kit(engine, wh, tmp_path / "kit.zip", targets=TARGETS[:1])
    files, _ = _read(kit.path)
    manifest = json.loads(files["actp-kit-r1/MANIFEST.json"])
    reasons = {r["variant_id"]: r["reason"] for r in manifest["left_out"]}
    assert reasons["v_rejected"] == NOT_APPROVED
    assert reasons["v_failed"].startswith("render not finished (status failed") and "ffmpeg exited 1" in reasons["v_failed"]
    assert reasons["v_gone"].startswith("render file missing")
    assert "v_old" not in reasons  # another round
    assert [e["variant_id"] for e in manifest["exported"]] == ["v_a", "v_b"]
    assert not any("v_rejected" in name for name in files)


def test_the_same_inputs_give_a_byte_identical_zip(world, tmp_path):
    engine, wh, _, _ = world
    one = export_kit(engine, wh, tmp_path / "one.zip", targets=TARGETS).path.read_bytes()
    two = export_kit(engine, wh, tmp_path / "two.zip", targets=TARGETS).path.read_bytes()
    assert one == two
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temp file, nothing left behind
    approvals.decide(engine, "content", "v_b", "needs_review", by="ann", reason="recheck")  # changes the kit
    three = export_kit(engine, wh, tmp_path / "three.zip", targets=TARGETS).path.read_bytes()
    assert three != one


def test_an_older_round_and_a_missing_round(world, tmp_path):
    engine, wh, _, _ = world
    kit = export_kit(engine, wh, tmp_path, targets=TARGETS, round_id="r0")
    assert kit.exported == [] and kit.left_out == [{"variant_id": "v_old", "reason": NOT_APPROVED}]
    with pytest.raises(LookupError, match="no round 'r9'"):
        export_kit(engine, wh, tmp_path, targets=TARGETS, round_id="r9")
    with pytest.raises(ValueError, match="platform:account"):
        parse_timezones(["Europe/Berlin"])
    with pytest.raises(ValueError, match="not an IANA"):
        parse_timezones(["tiktok:main=Mars/Olympus"])


def test_cli_exports_the_newest_round(world, tmp_path, monkeypatch):
    _, _, data, _ = world
    monkeypatch.delenv("ACTP_DATABASE_URL", raising=False)
    monkeypatch.setenv("ACTP_LOOP_TARGETS", '["tiktok:main"]')
    out = tmp_path / "cli.zip"
    result = CliRunner().invoke(actp, ["--data-dir", str(data), "export", "kit", "--out", str(out),
                                       "--tz", "tiktok:main=America/New_York"])
    assert result.exit_code == 0, result.output
    assert "2 videos" in result.output and "left out v_rejected: not approved" in result.output
    files, _ = _read(out)
    rows = list(csv.DictReader(io.StringIO(files["actp-kit-r1/schedule.csv"].decode())))
    assert {r["account"] for r in rows} == {"main"} and rows[0]["timezone"] == "America/New_York"
    bad = CliRunner().invoke(actp, ["--data-dir", str(data), "export", "kit", "--round", "nope", "--out", str(out)])
    assert bad.exit_code != 0 and "no round 'nope'" in bad.output
