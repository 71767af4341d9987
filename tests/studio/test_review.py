"""The Review page: the approval queue scoped to the user's accounts, decisions written through approvals.decide
with the studio user in the audit log, refusals (viewer, other account, no reason, illegal move), and what a
strategy change sends back to review."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from actp_pipeline import approvals
from actp_pipeline.approvals import strategy as strategies
from actp_pipeline.approvals.rules import AutoRules, ScopeRules
from actp_pipeline.store import schema
from actp_pipeline.store.engine import connect_store
from tests.studio.conftest import csrf_of


def _strategy(account: str, topic: str) -> strategies.Strategy:
    return strategies.Strategy(account=account, topic=topic, levels={"hook_pattern": ["pov"]}, variants=6,
                               max_length_s=20, targets=("instagram:main",), round_id=f"r_{account}")


@pytest.fixture(scope="module")
def engine(world):
    """The world's store with an approved strategy per account (the strategy rule approves it), so an approved
    creative is publishable."""
    eng = connect_store(world.store_url)
    with eng.begin() as conn:
        for account in ("acct_a", "acct_b"):
            strategies.register(conn, _strategy(account, "skincare"), AutoRules())
    yield eng
    eng.dispose()


def _row(engine, scope: str, subject_id: str) -> dict:
    with engine.connect() as conn:
        return approvals.decisions.get(conn, scope, subject_id)


def _log(engine, subject_id: str) -> pd.DataFrame:
    return approvals.history(engine, subject_id=subject_id)


def _decide(client, subject_id: str, decision: str, reason: str, scope: str = "content"):
    token = csrf_of(client.get("/review").text)
    return client.post("/review/decide", data={"csrf": token, "scope": scope, "subject_id": subject_id,
                                               "decision": decision, "reason": reason}, follow_redirects=False)


def test_queue_shows_only_the_users_accounts_with_video_caption_and_moderation(engine, world, as_user):
    page = as_user("alice").get("/review")
    assert page.status_code == 200
    for vid in world.of("acct_a"):
        assert f'src="/video/{vid}"' in page.text
        assert f"Caption {vid} for acct_a" in page.text
    assert "passed moderation rules" in page.text and "#glow" in page.text
    assert "acct_b" not in page.text and not any(vid in page.text for vid in world.of("acct_b"))
    everyone = as_user("admin").get("/review").text
    assert all(vid in everyone for vid in world.of("acct_a") + world.of("acct_b"))


def test_approve_makes_the_creative_publishable_and_logs_the_user(engine, world, as_user):
    vid = world.of("acct_a")[0]
    assert not approvals.is_publishable(engine, vid)
    answer = _decide(as_user("alice"), vid, "approve", "hook and caption on brand")
    assert answer.status_code == 303 and answer.headers["location"] == "/review"
    assert approvals.is_publishable(engine, vid)
    last = _log(engine, vid).iloc[-1]
    assert (last.decided_by, last.to_status, last.reason) == ("studio:alice", "approved", "hook and caption on brand")
    page = as_user("alice").get("/review").text
    assert "studio:alice" in page and "hook and caption on brand" in page  # in the recent decisions


def test_reject_needs_a_reason(engine, world, as_user):
    vid = world.of("acct_a")[1]
    client = as_user("alice")
    for blank in ("", "   "):
        answer = _decide(client, vid, "reject", blank)
        assert answer.status_code == 400 and "a reason is required" in answer.text
    assert _row(engine, "content", vid)["status"] == "pending" and _log(engine, vid).empty
    assert _decide(client, vid, "reject", "claims a cure").status_code == 303
    assert _row(engine, "content", vid)["status"] == "rejected"
    assert not approvals.is_publishable(engine, vid)


def test_viewer_is_refused_and_nothing_changes(engine, world, as_user):
    vid = world.of("acct_a")[2]
    client = as_user("victor")
    assert client.get("/review").status_code == 200
    answer = _decide(client, vid, "approve", "looks fine")
    assert answer.status_code == 403
    assert _row(engine, "content", vid)["status"] == "pending" and _log(engine, vid).empty
    assert "approver role" in client.get("/review").text  # the page says why there is no button


def test_other_accounts_rows_cannot_be_decided(engine, world, as_user):
    vid = world.of("acct_b")[0]
    answer = _decide(as_user("alice"), vid, "approve", "not mine")
    assert answer.status_code == 403
    assert _row(engine, "content", vid)["status"] == "pending" and _log(engine, vid).empty
    assert _decide(as_user("bob"), vid, "approve", "mine").status_code == 303
    assert _row(engine, "content", vid)["decided_by"] == "studio:bob"


def test_illegal_moves_and_bad_forms_are_400(engine, world, as_user):
    client = as_user("alice")
    vid = world.of("acct_a")[3]
    assert _decide(client, vid, "approve", "ok").status_code == 303
    again = _decide(client, vid, "approve", "ok again")
    assert again.status_code == 400 and "already approved" in again.text
    assert _decide(client, vid, "publish", "x").status_code == 400
    assert _decide(client, vid, "approve", "x", scope="nope").status_code == 400
    assert _decide(client, "v_missing", "approve", "x").status_code == 400
    token = csrf_of(client.get("/review").text)
    forged = client.post("/review/decide", data={"scope": "content", "subject_id": world.of("acct_a")[4],
                                                 "decision": "approve", "reason": "x"}, follow_redirects=False)
    assert forged.status_code == 403 and token
    assert _row(engine, "content", world.of("acct_a")[4])["status"] == "pending"


def test_strategy_change_sends_approved_content_back_to_review(engine, world, as_user):
    bob = as_user("bob")
    vid = world.of("acct_b")[3]
    assert _decide(bob, vid, "approve", "fine").status_code == 303
    no_content_rule = AutoRules(default=ScopeRules(content=False, strategy=False))
    with engine.begin() as conn:
        result = strategies.register(conn, _strategy("acct_b", "haircare"), no_content_rule)
    assert result["changed"] and _row(engine, "content", vid)["status"] == "needs_review"
    page = bob.get("/review?scope=content").text
    section = page.split("Sent back to review", 1)[1]
    assert vid in section and "strategy changed (topic)" in section and "cascade:strategy" in section
    assert "haircare" in page  # the new strategy's parts
    assert "haircare" not in as_user("alice").get("/review").text
    assert _decide(bob, vid, "approve", "still fine under haircare").status_code == 303
    assert not approvals.is_publishable(engine, vid)  # the changed strategy itself waits for review
    assert _decide(bob, "acct_b", "approve", "new topic agreed", scope="strategy").status_code == 303
    assert approvals.is_publishable(engine, vid)


def test_filters_are_checked(engine, as_user):
    client = as_user("alice")
    assert client.get("/review?scope=bogus").status_code == 400
    only = client.get("/review?scope=strategy").text
    assert "Content waiting" not in only and "Strategy waiting" in only


def test_ads_rows_belong_to_their_ad_account(engine, world, as_user):
    with engine.begin() as conn:
        approvals.decisions.create(conn, [{"scope": "ads", "subject_id": "plan-x:acct_b", "account": "*"}],
                                   by="loop", reason="plan awaits approval")
    assert "plan-x:acct_b" in as_user("bob").get("/review?scope=ads").text
    assert "plan-x:acct_b" not in as_user("alice").get("/review?scope=ads").text
    assert _decide(as_user("alice"), "plan-x:acct_b", "approve", "x", scope="ads").status_code == 403
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.approval_decisions).where(
            schema.approval_decisions.c.subject_id == "plan-x:acct_b")).scalar_one() == 0
