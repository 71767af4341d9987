"""The hooks service over real HTTP (uvicorn on loopback) on SQLite and PostgreSQL: tracked links, the click
committed before the redirect, open-redirect attempts refused, page views and conversions, signed webhooks
queued once and processed into conversions."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from actp_pipeline.hooks import events, links, signatures
from actp_pipeline.hooks.server import HooksServer
from actp_pipeline.hooks.service import HooksConfig
from actp_pipeline.store import schema

PAYLOADS = Path(__file__).with_name("open_redirect_payloads.txt")
STRIPE = ("whsec_old_rotated", "whsec_current")
CONFIG = HooksConfig(stripe_secrets=STRIPE, meta_app_secret="meta-app-secret", meta_verify_token="verify-me",
                     tiktok_secret="tiktok-client-secret", s2s_token="s2s-token-123")
NOW = dt.datetime(2026, 12, 6, 12, 0)


@pytest.fixture
def hooks(store_url):
    with HooksServer(store_url, CONFIG) as server:
        with server.engine.begin() as conn:
            for i in range(3):
                links.create_link(conn, idempotency_key=f"v_{i}:tiktok:main", variant_id=f"v_{i}", platform="tiktok",
                                  account="main", campaign="spring", now=NOW,
                                  destination="https://shop.example.com/offer?ref=bio#top")
        yield server


def _slug(i: int = 0) -> str:
    return links.slug_for(f"v_{i}:tiktok:main")


def _clicks(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(schema.clicks)).mappings()]


def test_a_click_is_committed_then_redirected_with_utm_and_click_id(hooks):
    resp = httpx.get(f"{hooks.url}/r/{_slug()}", headers={"User-Agent": "pytest", "Referer": "https://tiktok.com/"})
    assert resp.status_code == 302 and resp.headers["cache-control"] == "no-store"
    target = urlsplit(resp.headers["location"])
    assert (target.scheme, target.netloc, target.path, target.fragment) == ("https", "shop.example.com", "/offer", "top")
    q = parse_qs(target.query)
    assert q["ref"] == ["bio"] and q["utm_source"] == ["tiktok"] and q["utm_campaign"] == ["spring"]
    assert q["utm_content"] == ["v_0"] and q["utm_medium"] == ["actp_post"]
    [click] = _clicks(hooks.engine)  # committed before the answer came back
    assert click["click_id"] == q["actp_cid"][0] and click["slug"] == _slug()
    assert click["user_agent"] == "pytest" and click["referrer"] == "https://tiktok.com/"
    assert click["visitor"] and "127.0.0.1" not in click["visitor"]


def test_the_platforms_click_id_is_kept_and_passed_on(hooks):
    resp = httpx.get(f"{hooks.url}/r/{_slug(1)}", params={"fbclid": "IwAR0abc-_.x"})
    assert resp.status_code == 302
    assert parse_qs(urlsplit(resp.headers["location"]).query)["fbclid"] == ["IwAR0abc-_.x"]
    assert _clicks(hooks.engine)[0]["platform_click_id"] == "IwAR0abc-_.x"


def test_every_open_redirect_payload_gets_a_4xx_and_records_nothing(hooks):
    payloads = [p for p in PAYLOADS.read_text().splitlines() if p and not p.startswith("#")]
    assert len(payloads) >= 40
    with httpx.Client(base_url=hooks.url) as client:
        for raw in payloads:
            path = raw.replace("{slug}", _slug())
            resp = client.send(client.build_request("GET", path))
            assert 400 <= resp.status_code < 500, (raw, resp.status_code, resp.headers.get("location"))
            assert "location" not in resp.headers, raw
    assert _clicks(hooks.engine) == []


def test_a_stored_destination_is_checked_again_before_redirecting(hooks):
    with hooks.engine.begin() as conn:
        conn.execute(schema.links.update().where(schema.links.c.slug == _slug(2))
                     .values(destination="https://ok.com@evil.com/"))
    resp = httpx.get(f"{hooks.url}/r/{_slug(2)}")
    assert resp.status_code == 500 and "location" not in resp.headers
    assert resp.json()["error"]["code"] == "unsafe_destination"


@pytest.mark.parametrize("url, why", [
    ("javascript:alert(1)", "scheme"), ("https://ok.com@evil.com/", "user information"),
    ("https://evil.com\\@ok.com", "backslash"), ("http://shop.example.com/", "must be https"),
    ("https://shöp.example/", "non-ASCII"), ("https:///path", "host"), ("https://a b.com", "whitespace"),
    ("//evil.com", "scheme"), ("https://ok.com:99999/", "port"), ("", "empty"),
])
def test_bad_destinations_are_refused_when_the_link_is_made(url, why):
    with pytest.raises(links.BadDestination, match=why):
        links.check_destination(url)


def test_page_views_and_conversions_from_the_snippet(hooks):
    loc = httpx.get(f"{hooks.url}/r/{_slug()}").headers["location"]
    cid = parse_qs(urlsplit(loc).query)["actp_cid"][0]
    js = httpx.get(f"{hooks.url}/snippet.js")
    assert js.status_code == 200 and "sendBeacon" in js.text and js.headers["content-type"].startswith("text/javascript")
    pre = httpx.options(f"{hooks.url}/e/conversion")
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "*"
    pv = httpx.post(f"{hooks.url}/e/pv", content=json.dumps({"click_id": cid, "url": loc}),
                    headers={"Content-Type": "text/plain"})
    assert pv.status_code == 204
    conv = {"click_id": cid, "event": "purchase", "value": 29.5, "currency": "EUR", "dedupe_key": "order-1"}
    assert httpx.post(f"{hooks.url}/e/conversion", content=json.dumps(conv)).json() == {"status": "stored"}
    assert httpx.post(f"{hooks.url}/e/conversion", content=json.dumps(conv)).json() == {"status": "duplicate"}
    bad = httpx.post(f"{hooks.url}/e/conversion", content=json.dumps({**conv, "currency": None}))
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "currency"
    forged = httpx.post(f"{hooks.url}/e/pv", content=json.dumps({"click_id": "0" * 24, "url": loc}))
    assert forged.status_code == 404
    with hooks.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.page_views)).scalar() == 1
        [row] = conn.execute(sa.select(schema.conversions)).mappings().all()
    assert (row["click_id"], row["value"], row["currency"], row["source"]) == (cid, 29.5, "EUR", "page")


def test_server_to_server_conversions_need_the_token(hooks):
    cid = parse_qs(urlsplit(httpx.get(f"{hooks.url}/r/{_slug()}").headers["location"]).query)["actp_cid"][0]
    body = {"click_id": cid, "event": "lead", "dedupe_key": "lead-77", "at": "2026-12-06T10:00:00Z"}
    assert httpx.post(f"{hooks.url}/s2s/conversion", json=body).status_code == 401
    assert httpx.post(f"{hooks.url}/s2s/conversion", json=body,
                      headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = httpx.post(f"{hooks.url}/s2s/conversion", json=body, headers={"Authorization": "Bearer s2s-token-123"})
    assert ok.status_code == 201, ok.text
    future = {**body, "dedupe_key": "lead-78", "at": "2999-01-01T00:00:00Z"}
    late = httpx.post(f"{hooks.url}/s2s/conversion", json=future, headers={"Authorization": "Bearer s2s-token-123"})
    assert late.status_code == 422 and late.json()["error"]["field"] == "at"


def _stripe_event(cid: str, event_id: str = "evt_1") -> bytes:
    return json.dumps({"id": event_id, "type": "checkout.session.completed", "created": int(time.time()),
                       "data": {"object": {"id": "cs_test_1", "client_reference_id": cid, "amount_total": 4900,
                                           "currency": "usd", "payment_intent": "pi_1"}}}).encode()


def _wait_processed(engine, n: int) -> list[dict]:
    deadline = time.monotonic() + 5
    while True:
        with engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(sa.select(schema.webhook_events)).mappings()]
        if sum(r["status"] != "pending" for r in rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.02)


def test_a_signed_stripe_payment_becomes_one_conversion_however_often_it_is_delivered(hooks):
    cid = parse_qs(urlsplit(httpx.get(f"{hooks.url}/r/{_slug()}").headers["location"]).query)["actp_cid"][0]
    body = _stripe_event(cid)
    header = signatures.sign_stripe(body, STRIPE[0], int(time.time()))  # signed with the rotated-out secret
    for _ in range(3):
        resp = httpx.post(f"{hooks.url}/webhooks/stripe", content=body, headers={"Stripe-Signature": header})
        assert resp.status_code == 200, resp.text
    assert resp.json() == {"received": True, "duplicate": True}
    [row] = _wait_processed(hooks.engine, 1)
    assert (row["status"], row["result"]) == ("done", "purchase")
    with hooks.engine.connect() as conn:
        [conv] = conn.execute(sa.select(schema.conversions)).mappings().all()
    assert (conv["click_id"], conv["value"], conv["currency"], conv["dedupe_key"]) == (cid, 49.0, "USD", "stripe:pi_1")


def test_unsigned_tampered_or_stale_webhooks_are_refused(hooks):
    body = _stripe_event("a" * 24)
    stale = signatures.sign_stripe(body, STRIPE[1], int(time.time()) - 301)
    for headers, content in [({}, body), ({"Stripe-Signature": stale}, body),
                             ({"Stripe-Signature": signatures.sign_stripe(body, "whsec_other", int(time.time()))}, body),
                             ({"Stripe-Signature": signatures.sign_stripe(body, STRIPE[1], int(time.time()))},
                              body + b" ")]:
        resp = httpx.post(f"{hooks.url}/webhooks/stripe", content=content, headers=headers)
        assert resp.status_code == 400, resp.text
        assert STRIPE[1] not in resp.text and STRIPE[0] not in resp.text
    big = httpx.post(f"{hooks.url}/webhooks/stripe", content=b"x" * (1 << 20 + 1), headers={"Stripe-Signature": stale})
    assert big.status_code == 413
    assert _wait_processed(hooks.engine, 0) == []


def test_meta_challenge_and_signed_delivery(hooks):
    ok = httpx.get(f"{hooks.url}/webhooks/meta",
                   params={"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.text == "1158201444"
    no = httpx.get(f"{hooks.url}/webhooks/meta",
                   params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"})
    assert no.status_code == 403
    body = json.dumps({"object": "page", "entry": [{"id": "1", "time": 1, "changes": []}]}).encode()
    signed = {"X-Hub-Signature-256": signatures.sign_meta(body, "meta-app-secret")}
    assert httpx.post(f"{hooks.url}/webhooks/meta", content=body, headers=signed).json()["duplicate"] is False
    assert httpx.post(f"{hooks.url}/webhooks/meta", content=body, headers=signed).json()["duplicate"] is True
    assert httpx.post(f"{hooks.url}/webhooks/meta", content=body,
                      headers={"X-Hub-Signature-256": "sha256=" + "0" * 64}).status_code == 400
    [row] = _wait_processed(hooks.engine, 1)
    assert row["provider"] == "meta" and row["status"] == "skipped" and row["event_type"] == "page"


def test_tiktok_signed_delivery(hooks):
    body = json.dumps({"client_key": "k", "event": "post.publish.complete", "create_time": 1}).encode()
    header = signatures.sign_tiktok(body, "tiktok-client-secret", int(time.time()))
    resp = httpx.post(f"{hooks.url}/webhooks/tiktok", content=body, headers={"TikTok-Signature": header})
    assert resp.status_code == 200 and resp.json()["duplicate"] is False
    bad = signatures.sign_tiktok(body, "not-the-secret", int(time.time()))
    assert httpx.post(f"{hooks.url}/webhooks/tiktok", content=body,
                      headers={"TikTok-Signature": bad}).status_code == 400


def test_a_source_without_a_secret_is_off(tmp_path):
    with HooksServer(f"sqlite:///{tmp_path / 's.db'}", HooksConfig()) as server:
        for path in ("/webhooks/stripe", "/webhooks/meta", "/webhooks/tiktok", "/s2s/conversion"):
            resp = httpx.post(server.url + path, content=b"{}")
            assert resp.status_code == 404 and "set ACTP_" in resp.json()["error"]["message"], path
    assert "secret" not in repr(CONFIG) and "s2s-token" not in repr(CONFIG)


def test_stripe_conversion_reads_amounts_in_the_currencys_units():
    ev = json.loads(_stripe_event("b" * 24))
    ev["data"]["object"].update(currency="jpy", amount_total=4900)
    conv, why = events.stripe_conversion(ev)
    assert why == "purchase" and conv["value"] == 4900.0 and conv["currency"] == "JPY"
    ev["type"] = "customer.created"
    assert events.stripe_conversion(ev) == (None, "customer.created is not a paid conversion")


def test_the_loop_refuses_an_unsafe_landing_page_in_its_settings():
    from pydantic import ValidationError

    from resources import LoopSettings

    assert LoopSettings(landing_url="https://shop.example.com/x").post_link() == {
        "destination": "https://shop.example.com/x", "campaign": "skincare"}
    assert LoopSettings().post_link() is None
    with pytest.raises(ValidationError, match="user information"):
        LoopSettings(landing_url="https://ok.com@evil.com/")


def test_one_sale_is_one_row_and_the_most_trusted_report_wins(hooks):
    cid = parse_qs(urlsplit(httpx.get(f"{hooks.url}/r/{_slug()}").headers["location"]).query)["actp_cid"][0]
    page = {"click_id": cid, "event": "purchase", "value": 1.0, "currency": "USD", "dedupe_key": "order-9"}
    assert httpx.post(f"{hooks.url}/e/conversion", content=json.dumps(page)).json() == {"status": "stored"}
    server = {**page, "value": 49.0}  # the shop's server knows the real amount
    auth = {"Authorization": "Bearer s2s-token-123"}
    assert httpx.post(f"{hooks.url}/s2s/conversion", json=server, headers=auth).json() == {"status": "corrected"}
    assert httpx.post(f"{hooks.url}/e/conversion", content=json.dumps({**page, "value": 0.01})).json() == {
        "status": "duplicate"}  # a page can never overwrite the server's report
    ev = json.loads(_stripe_event(cid, "evt_9"))
    ev["data"]["object"]["metadata"] = {"actp_dedupe_key": "order-9"}
    body = json.dumps(ev).encode()
    httpx.post(f"{hooks.url}/webhooks/stripe", content=body,
               headers={"Stripe-Signature": signatures.sign_stripe(body, STRIPE[1], int(time.time()))})
    _wait_processed(hooks.engine, 1)
    # a sale the shop reports for a click this service never saw is kept, unattributed, not dropped
    stray = {"click_id": "f" * 24, "event": "purchase", "value": 5.0, "currency": "USD", "dedupe_key": "order-10"}
    assert httpx.post(f"{hooks.url}/s2s/conversion", json=stray, headers=auth).status_code == 201
    with hooks.engine.connect() as conn:
        rows = {r["dedupe_key"]: r for r in conn.execute(sa.select(schema.conversions)).mappings()}
    assert set(rows) == {"order-9", "order-10"}
    assert (rows["order-9"]["value"], rows["order-9"]["source"]) == (49.0, "server")
