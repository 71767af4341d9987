"""Each scheduled post gets its tracked link before it can be posted, and its caption carries the link's
address when the hooks service's public address is set."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from actp_pipeline.hooks.links import BadDestination, link_url, slug_for
from actp_pipeline.publish.publish_schedule import LINK_LABEL, Target, schedule_rendered
from actp_pipeline.store import connect_store, schema
from actp_pipeline.store.schema import utcnow

NOW = dt.datetime(2026, 6, 3, 9, 0)


@pytest.fixture
def engine(tmp_path):
    engine = connect_store(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.begin() as conn:
        for i in range(2):
            conn.execute(schema.render_jobs.insert().values(
                variant_id=f"v{i}", payload={"caption": f"Try this {i}", "hashtags": ["#a"]},
                output_path=f"/media/v{i}.mp4", status="succeeded", available_at=utcnow(), created_at=utcnow(),
                updated_at=utcnow()))
    return engine


def _rows(engine, table):
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(table)).mappings()]


def test_links_are_made_with_the_items_and_captions_end_with_them(engine):
    link = {"destination": "https://shop.example.com/offer", "campaign": "skincare", "hooks_url": "https://go.example.com"}
    new = schedule_rendered(engine, NOW, [Target("tiktok", "main")], link=link)
    assert len(new) == 2
    items = {r["idempotency_key"]: r for r in _rows(engine, schema.publish_queue)}
    links = {r["slug"]: r for r in _rows(engine, schema.links)}
    assert len(links) == 2
    for key, item in items.items():
        row = links[slug_for(key)]
        assert (row["variant_id"], row["destination"], row["campaign"]) == (
            item["variant_id"], "https://shop.example.com/offer", "skincare")
        assert item["payload"]["caption"].endswith(f"\n{LINK_LABEL} {link_url('https://go.example.com', slug_for(key))}")
    assert schedule_rendered(engine, NOW, [Target("tiktok", "main")], link=link).empty  # nothing twice
    assert len(_rows(engine, schema.links)) == 2


def test_without_a_hooks_address_the_caption_is_untouched_and_without_a_landing_page_no_link(engine):
    schedule_rendered(engine, NOW, [Target("tiktok", "main")], link={"destination": "https://s.example.com/",
                                                                      "campaign": "c"})
    assert all(LINK_LABEL not in r["payload"]["caption"] for r in _rows(engine, schema.publish_queue))
    schedule_rendered(engine, NOW, [Target("youtube", "main")])
    assert {r["platform"] for r in _rows(engine, schema.links)} == {"tiktok"}


def test_an_unsafe_landing_page_stops_the_schedule_before_anything_is_queued(engine):
    with pytest.raises(BadDestination):
        schedule_rendered(engine, NOW, [Target("tiktok", "main")],
                          link={"destination": "https://ok.com@evil.com/", "campaign": "c"})
    assert _rows(engine, schema.publish_queue) == [] and _rows(engine, schema.links) == []
