"""The studio in a real browser (Playwright driving Debian's Chromium): a reviewer watches a video and approves it,
an approver approves an ads plan and the loop executes it, a viewer's approve and a form without its CSRF token
are refused, one account's user sees nothing of another's, and every page renders with no console error. A screenshot of each page goes to test-artifacts/studio/."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import socket
import threading
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import uvicorn

from actp_pipeline.ads import accounts as ad_accounts, audit as ads_audit
from actp_pipeline.approvals import gate
from actp_pipeline.chromium import CHROMIUM_ARGS, chromium_problem, default_chromium
from actp_pipeline.store.engine import connect_store
from actp_pipeline.publish.platforms import HttpPlatform
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.studio import users
from actp_pipeline.studio.app import create_app
from resources import AdsResource, LoopSettings, PlatformResource, ResearchSourcesResource, StoreResource
from resources.llm import LLMResource
from sensors import ad_plan_approvals_sensor
from tests.dagster.test_ads_assets import _run
from tests.e2e.test_graduation import _publish
from tests.studio import world as worlds

pytestmark = [pytest.mark.approvals_gate,
              pytest.mark.skipif(chromium_problem() is not None, reason=str(chromium_problem()))]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "studio"
PAGES = {"creatives": "/", "review": "/review", "ads": "/ads", "learning": "/learning", "funnel": "/funnel",
         "health": "/health"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _serve(app):
    """`app` served by uvicorn on a free loopback port for the block; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the studio did not start"
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """The studio over a fresh world, served by uvicorn on loopback for the module's tests."""
    root = tmp_path_factory.mktemp("studio_browser")
    world = worlds.build(root / "world", per_account=6, posts_per_variant=2)
    app = create_app(world.store_url, world.warehouse_dir, world.media_dir, root / "data", secure_cookies=False,
                     secret="browser-test")
    with _serve(app) as base:
        yield world, base


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=default_chromium(), args=list(CHROMIUM_ARGS))
        yield b
        b.close()


class Session:
    """One person's browser context, with every console error, page error and failed answer it met."""

    def __init__(self, browser, base: str, name: str):
        self.context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.failed: list[str] = []
        self.page.on("response", lambda r: self.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        self.page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}")
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.goto("/login")
        self.page.fill("input[name=username]", name)
        self.page.fill("input[name=password]", worlds.PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state()
        assert "/login" not in self.page.url, f"{name} could not log in"

    def csrf(self) -> str:
        return self.page.locator("input[name=csrf]").first.get_attribute("value")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def session(browser, studio):
    opened: list[Session] = []

    def make(name: str) -> Session:
        opened.append(Session(browser, studio[1], name))
        return opened[-1]
    yield make
    for s in opened:
        s.close()


def _play(page, card) -> float:
    """Play the card's video muted (autoplay rules) and return its currentTime after a second of playing."""
    video = card.locator("video")
    video.scroll_into_view_if_needed()
    state = video.evaluate("v => { v.muted = true; return v.play().then(() => 'playing', e => 'refused: ' + e); }")
    assert state == "playing", state
    page.wait_for_function("v => v.currentTime > 0.5", arg=video.element_handle(), timeout=10_000)
    return video.evaluate("v => v.currentTime")


def test_a_reviewer_watches_a_video_and_approves_it(session, studio):
    world, _ = studio
    variant = world.of("acct_a")[0]
    engine = connect_store(world.store_url)
    assert not gate.is_publishable(engine, variant)
    alice = session("alice")
    alice.page.goto("/review")
    card = alice.page.locator(f"#content-{variant}")
    assert _play(alice.page, card) > 0.5
    card.locator("input[name=reason]").fill("watched it: on brand, claims check out")
    card.get_by_role("button", name="Approve").click()
    alice.page.wait_for_load_state()
    assert gate.is_publishable(engine, variant)
    from actp_pipeline.approvals import history

    last = history(engine, "content", variant).iloc[-1]
    assert (last["to_status"], last["decided_by"]) == ("approved", "studio:alice")
    assert last["reason"] == "watched it: on brand, claims check out"
    assert alice.problems == []


def test_a_viewers_approve_is_refused(session, studio):
    world, _ = studio
    variant = world.of("acct_a")[1]
    victor = session("victor")
    victor.page.goto("/review")
    card = victor.page.locator(f"#content-{variant}")
    assert card.get_by_role("button", name="Approve").count() == 0  # no form is offered to a viewer
    answer = victor.page.request.post("/review/decide", form={
        "csrf": victor.csrf(), "scope": "content", "subject_id": variant, "reason": "sneaky", "decision": "approve"})
    assert answer.status == 403
    assert not gate.is_publishable(connect_store(world.store_url), variant)


def test_a_form_without_its_csrf_token_is_refused(session, studio):
    world, _ = studio
    variant = world.of("acct_a")[2]
    alice = session("alice")
    alice.page.goto("/review")
    card = alice.page.locator(f"#content-{variant}")
    card.locator("input[name=csrf]").evaluate("e => e.remove()")  # the form as a forger would have to send it
    card.locator("input[name=reason]").fill("forged")
    card.get_by_role("button", name="Approve").click()
    alice.page.wait_for_load_state()
    assert "CSRF" in alice.page.content()
    assert not gate.is_publishable(connect_store(world.store_url), variant)


def test_a_user_of_one_account_sees_nothing_of_another(session, studio):
    world, _ = studio
    others = world.of("acct_b")
    alice = session("alice")
    for name, path in PAGES.items():
        alice.page.goto(path)
        html = alice.page.content()
        leaked = [v for v in others if v in html]
        assert not leaked and "acct_b" not in html, f"{name} shows account B: {leaked[:3]}"
    assert alice.page.request.get(f"/video/{others[0]}").status == 404
    assert alice.page.request.get(f"/video/{world.of('acct_a')[0]}").status == 200


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_renders_without_console_errors(session, name):
    admin = session("admin")
    failed: list[str] = []
    admin.page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    admin.page.goto(PAGES[name])
    admin.page.wait_for_load_state("networkidle")
    assert admin.page.locator("h1").count() >= 1 and not re.search(r"\b(500|Internal Server Error)\b",
                                                                    admin.page.locator("h1").first.inner_text())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    admin.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert admin.problems == [] and failed == [], admin.problems + failed


def test_an_approver_approves_a_plan_and_the_loop_executes_it(browser, tmp_path):
    """The orchestrator plans against the sandbox's Marketing API, an approver of the ad account approves the plan
    on the Ads page, the approvals sensor asks for a run and ad_actions executes it: the studio's click is the
    approval the loop acts on."""
    with SandboxServer(WorldConfig(seed=4, start=dt.datetime(2026, 11, 10, 6), speed=0.0)) as sb:
        store = StoreResource(data_dir=str(tmp_path / "data"))
        res = {"store": store, "platform": PlatformResource(base_url=sb.url, api_key="sandbox-key"),
               "ads": AdsResource(base_url=sb.url + "/graph", access_token="sandbox-key"), "loop": LoopSettings(),
               "research": ResearchSourcesResource(), "llm": LLMResource()}
        engine = store.engine()
        with HttpPlatform(sb.url, "sandbox-key") as platform:
            ids = _publish(tmp_path, sb, platform, engine)[:2]
        store.warehouse().write("allocation", pd.DataFrame({"variant_id": ids, "share": [0.7, 0.3]}))
        ad_accounts.set_goal(engine, "acc1", "streams", priority=4)
        users.add_user(engine, "ana", worlds.PASSWORD, by="test")
        users.grant(engine, "ana", "acc1", "approver", by="test")
        with dg.instance_for_test() as instance:
            plan_id = _run(["ad_plan"], res, instance)["ad_plan"]["plan_id"].value
            sensor_res = {"store": store, "platform": res["platform"]}
            first = ad_plan_approvals_sensor(dg.build_sensor_context(instance=instance, resources=sensor_res))
            assert not first.run_requests  # nothing to execute before the approval
            app = create_app(store.url, store.root / "warehouse", store.root / "media", tmp_path / "studio",
                             secure_cookies=False, secret="plan-test")
            with _serve(app) as base:
                ana = Session(browser, base, "ana")
                ana.page.goto("/ads")
                form = ana.page.locator("form[action='/ads/approve']").filter(
                    has=ana.page.locator(f"input[name=plan_id][value='{plan_id}']"))
                form.locator("input[name=reason]").fill("budgets look right")
                form.get_by_role("button", name="Approve plan").click()
                ana.page.wait_for_load_state()
                assert "by studio:ana" in ana.page.content()
                assert ana.problems == [], ana.problems + ana.failed
                ana.close()
            tick = ad_plan_approvals_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor,
                                                                    resources=sensor_res))
            assert len(tick.run_requests) == 1
            meta = _run(["ad_actions"], res, instance, run_config=tick.run_requests[0].run_config)["ad_actions"]
            assert meta["counts"].value == {"success": 3} and meta["failed"].value == 0
        log = ads_audit.log(engine, plan_id=plan_id)
        assert set(log.loc[log["mode"] == "execute", "status"]) == {"success"}
