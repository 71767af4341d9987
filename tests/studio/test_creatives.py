"""The Creatives gallery: scoped to the user's accounts, its numbers are the warehouse's, filters and pages are
checked, a creative's own page draws its cells, and the video is served with range requests (so it seeks) to
those who see it and 404 to everyone else."""

from __future__ import annotations

import re
import shutil

import av
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from actp_pipeline.store import schema
from actp_pipeline.store.engine import connect_store
from actp_pipeline.store.warehouse import Warehouse
from actp_pipeline.studio.app import create_app
from actp_pipeline.studio.gallery import PAGE_SIZE
from tests.studio import world as worlds
from tests.studio.conftest import login


def _ids(html: str) -> set[str]:
    return set(re.findall(r"v_[ab]\d{6}", html))


def test_the_gallery_shows_own_account_only_with_numbers_and_a_picture(world, as_user):
    alice = as_user("alice")
    html = alice.get("/").text
    assert _ids(html) == set(world.of("acct_a"))
    assert "acct_b" not in html
    assert html.count("<svg") >= len(world.of("acct_a"))  # each scored card draws its interval among rivals
    assert f"{len(world.of('acct_a'))} creative(s)" in html
    admin = as_user("admin").get("/").text
    assert _ids(admin) == set(world.variants["variant_id"])


def test_a_cards_p_best_and_decision_are_the_warehouses(world, as_user):
    decisions = Warehouse(world.warehouse_dir).read("decisions")
    vid = world.of("acct_a")[0]
    row = decisions[decisions["variant_id"] == vid].sort_values("views", ascending=False).iloc[0]
    html = as_user("alice").get(f"/creative/{vid}").text
    assert row["reason"] in html.replace("&#39;", "'").replace("&amp;", "&")
    p = float(row["p_best"])  # the gallery reads the decisions table once the winner rule has run
    assert f"{p:.0%}" in html or f"{p:.2f}" in html or f"{p * 100:.1f}%" in html


def test_filters_narrow_the_gallery_and_bad_ones_are_400(world, as_user):
    admin = as_user("admin")
    only_b = admin.get("/", params={"account": "acct_b"}).text
    assert _ids(only_b) == set(world.of("acct_b"))
    cell = Warehouse(world.warehouse_dir).read("scores")["cell_window"].iloc[0]
    in_cell = _ids(admin.get("/", params={"cell": cell}).text)
    scores = Warehouse(world.warehouse_dir).read("scores")
    assert in_cell and in_cell <= set(scores.loc[scores["cell_window"] == cell, "variant_id"])
    assert _ids(admin.get("/", params={"platform": "tiktok"}).text) == set()
    for bad, field in (({"decision": "bogus"}, "decision"), ({"page": "0"}, "page"), ({"cell": "x" * 300}, "cell")):
        answer = admin.get("/", params=bad)
        assert answer.status_code == 400 and field in answer.text


def test_another_accounts_filter_shows_nothing(world, as_user):
    answer = as_user("alice").get("/", params={"account": "acct_b"})
    assert answer.status_code == 200 and _ids(answer.text) == set()


def test_pages_are_stable_and_complete(tmp_path):
    big = worlds.build(tmp_path / "big", per_account=PAGE_SIZE + 5, posts_per_variant=1)
    client = TestClient(create_app(big.store_url, big.warehouse_dir, big.media_dir, tmp_path / "d",
                                   secure_cookies=False, secret="s"))
    assert login(client, "admin").status_code == 303
    seen: list[set[str]] = [_ids(client.get("/", params={"page": p}).text) for p in (1, 2, 3)]
    assert all(len(s) <= PAGE_SIZE for s in seen)
    assert set().union(*seen) == set(big.variants["variant_id"])
    assert sum(len(s) for s in seen) == len(big.variants)  # no creative on two pages


def test_the_video_seeks_with_range_requests_and_decodes(world, as_user):
    vid = world.of("acct_a")[0]
    alice = as_user("alice")
    whole = alice.get(f"/video/{vid}")
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    part = alice.get(f"/video/{vid}", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    path = world.media_dir / "probe.mp4"
    path.write_bytes(whole.content)
    with av.open(str(path)) as box:
        assert sum(1 for _ in box.decode(video=0)) > 0


def test_another_accounts_creative_and_video_are_404_like_unknown_ones(world, as_user):
    alice = as_user("alice")
    theirs = world.of("acct_b")[0]
    for path in (f"/creative/{theirs}", f"/video/{theirs}", "/creative/v_z999999", "/video/v_z999999",
                 "/video/..%2F..%2Fetc%2Fpasswd"):
        answer = alice.get(path)
        assert answer.status_code == 404, path
    for kind in ("creative", "video"):  # word for word the answer to an id that does not exist: nothing confirmed
        assert alice.get(f"/{kind}/{theirs}").text.replace(theirs, "ID") == \
            alice.get(f"/{kind}/v_z999999").text.replace("v_z999999", "ID")


def test_a_render_outside_the_media_directory_is_refused(world, as_user, tmp_path):
    vid = world.of("acct_a")[1]
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(b"not yours")
    engine = connect_store(world.store_url)
    t = schema.render_jobs
    with engine.begin() as conn:
        before = conn.execute(sa.select(t.c.output_path).where(t.c.variant_id == vid)).scalar_one()
        conn.execute(t.update().where(t.c.variant_id == vid).values(output_path=str(outside)))
    try:
        answer = as_user("alice").get(f"/video/{vid}")
        assert answer.status_code == 403 and b"not yours" not in answer.content
    finally:
        with engine.begin() as conn:
            conn.execute(t.update().where(t.c.variant_id == vid).values(output_path=before))
        engine.dispose()


@pytest.mark.parametrize("table", ["decisions", "allocation"])
def test_the_gallery_works_before_the_loop_has_decided(world, tmp_path, table):
    """An early warehouse (no decisions, no allocation yet) still shows every creative."""
    early = tmp_path / "warehouse"
    shutil.copytree(world.warehouse_dir, early)
    shutil.rmtree(early / table)
    client = TestClient(create_app(world.store_url, early, world.media_dir, tmp_path / "d",
                                   secure_cookies=False, secret="s"))
    assert login(client, "admin").status_code == 303
    answer = client.get("/")
    assert answer.status_code == 200 and _ids(answer.text) == set(world.variants["variant_id"])


def test_the_gallery_of_a_fresh_install_is_empty_not_an_error(world, tmp_path):
    """Before the first round there is no variants table: the page says so and answers 200."""
    client = TestClient(create_app(world.store_url, tmp_path / "empty", world.media_dir, tmp_path / "d",
                                   secure_cookies=False, secret="s"))
    assert login(client, "admin").status_code == 303
    answer = client.get("/")
    assert answer.status_code == 200 and "0 creative(s)" in answer.text and _ids(answer.text) == set()
