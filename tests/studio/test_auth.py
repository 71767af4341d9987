"""The studio's door: argon2 logins, the throttle, sessions, CSRF on every form, roles per account, the first
admin from EnvVars, `actp studio user add`, and the security headers."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from starlette.testclient import TestClient

from actp_pipeline.cli import actp
from actp_pipeline.store import schema
from actp_pipeline.store.engine import connect_store
from actp_pipeline.studio import users
from actp_pipeline.studio.access import Access
from tests.studio.conftest import csrf_of, login
from tests.studio.world import PASSWORD


def test_the_password_is_stored_as_an_argon2_hash_only(world):
    with connect_store(world.store_url).connect() as conn:
        stored = conn.execute(sa.select(schema.studio_users.c.password_hash).where(
            schema.studio_users.c.username == "alice")).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_a_page_without_login_redirects_to_login_and_back(app):
    client = TestClient(app)
    answer = client.get("/health?x=1", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=%2Fhealth%3Fx%3D1"
    token = csrf_of(client.get(answer.headers["location"]).text)
    done = client.post("/login", data={"csrf": token, "username": "alice", "password": PASSWORD,
                                       "next": "/health?x=1"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/health?x=1"
    assert client.get("/health").status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_site(app, target):
    client = TestClient(app)
    token = csrf_of(client.get("/login").text)
    done = client.post("/login", data={"csrf": token, "username": "alice", "password": PASSWORD, "next": target},
                       follow_redirects=False)
    assert done.headers["location"] == "/"


def test_a_wrong_password_and_an_unknown_user_read_the_same(app):
    client = TestClient(app)
    wrong = login(client, "victor", "not the password")
    unknown = login(client, "nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "wrong user name or password" in wrong.text and "wrong user name or password" in unknown.text


def test_the_login_form_needs_its_csrf_token(app):
    client = TestClient(app)
    client.get("/login")
    answer = client.post("/login", data={"username": "alice", "password": PASSWORD}, follow_redirects=False)
    assert answer.status_code == 403 and "CSRF" in answer.text
    assert client.get("/health", follow_redirects=False).status_code == 303  # still logged out


def test_the_throttle_locks_after_repeated_failures_and_doubles(tmp_path):
    engine = connect_store(f"sqlite:///{tmp_path / 's.db'}")
    users.add_user(engine, "carol", PASSWORD)
    t0 = dt.datetime(2026, 12, 7, 12)
    for _ in range(users.FREE_FAILURES - 1):
        assert users.authenticate(engine, "carol", "nope", now=t0).reason == "bad"
    assert users.authenticate(engine, "carol", "nope", now=t0).reason == "bad"  # the 5th: locks 30 s
    locked = users.authenticate(engine, "carol", PASSWORD, now=t0 + dt.timedelta(seconds=10))
    assert locked.reason == "locked" and not locked.ok and 19 <= locked.retry_after_s <= 20
    assert users.authenticate(engine, "carol", "nope", now=t0 + dt.timedelta(seconds=31)).reason == "bad"
    again = users.authenticate(engine, "carol", PASSWORD, now=t0 + dt.timedelta(seconds=32))
    assert again.reason == "locked" and 58 <= again.retry_after_s <= 60  # the 6th failure locked it 60 s
    assert users.authenticate(engine, "carol", PASSWORD, now=t0 + dt.timedelta(seconds=92)).ok
    assert users.authenticate(engine, "carol", "nope", now=t0 + dt.timedelta(seconds=93)).reason == "bad"


def test_a_locked_login_is_answered_429(app, world):
    client = TestClient(app)
    for _ in range(users.FREE_FAILURES):
        login(client, "adam", "wrong password!")
    answer = login(client, "adam")
    assert answer.status_code == 429 and "too many failed logins" in answer.text
    with connect_store(world.store_url).begin() as conn:  # unlock for the module's other tests
        conn.execute(schema.studio_users.update().where(schema.studio_users.c.username == "adam").values(
            failed_logins=0, locked_until=None))


def test_logout_needs_the_token_and_ends_the_session(as_user):
    client = as_user("alice")
    page = client.get("/health").text
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert client.post("/logout", data={"csrf": csrf_of(page)}, follow_redirects=False).status_code == 303
    assert client.get("/health", follow_redirects=False).status_code == 303


def test_a_revoked_role_logs_the_user_out_at_once(as_user, world):
    client = as_user("victor")
    assert client.get("/health").status_code == 200
    with connect_store(world.store_url).begin() as conn:
        conn.execute(schema.studio_roles.delete().where(schema.studio_roles.c.username == "victor"))
    try:
        assert client.get("/health", follow_redirects=False).status_code == 303
    finally:
        users.grant(connect_store(world.store_url), "victor", "acct_a", "viewer")


def test_every_answer_carries_the_security_headers(app):
    answer = TestClient(app).get("/login")
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY" and answer.headers["x-content-type-options"] == "nosniff"


def test_the_session_cookie_is_httponly_strict_and_secure_unless_told(world, tmp_path):
    from actp_pipeline.studio.app import create_app

    secure = create_app(world.store_url, world.warehouse_dir, world.media_dir, tmp_path, secret="s")
    client = TestClient(secure, base_url="https://testserver")
    cookie = client.get("/login").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie


def test_roles_per_account():
    a = Access("alice", {"acct_a": "approver"})
    assert a.can("acct_a", "viewer") and a.can("acct_a", "approver") and not a.can("acct_a", "admin")
    assert not a.can("acct_b", "viewer") and not a.sees("acct_b") and not a.sees("*")
    assert a.visible() == ["acct_a"] and a.visible(["acct_a", "acct_b"]) == ["acct_a"]
    boss = Access("admin", {"*": "admin", "acct_a": "viewer"})
    assert boss.role_on("acct_a") == "admin" and boss.visible() is None and boss.is_admin


def test_the_first_admin_comes_from_envvars_once(tmp_path):
    engine = connect_store(f"sqlite:///{tmp_path / 's.db'}")
    assert users.ensure_first_admin(engine, {}) is None
    env = {"ACTP_STUDIO_ADMIN_USER": "root", "ACTP_STUDIO_ADMIN_PASSWORD": "a long enough secret"}
    assert users.ensure_first_admin(engine, env) == "root"
    assert users.roles_of(engine, "root") == {"*": "admin"}
    assert users.ensure_first_admin(engine, {**env, "ACTP_STUDIO_ADMIN_USER": "other"}) is None


def test_bad_users_are_clear_errors(tmp_path):
    engine = connect_store(f"sqlite:///{tmp_path / 's.db'}")
    with pytest.raises(users.UserError, match="shorter than 10"):
        users.add_user(engine, "dan", "short")
    with pytest.raises(users.UserError, match="user name"):
        users.add_user(engine, "dan smith", PASSWORD)
    users.add_user(engine, "dan", PASSWORD)
    with pytest.raises(users.UserError, match="exists already"):
        users.add_user(engine, "dan", PASSWORD)
    with pytest.raises(users.UserError, match="unknown role 'owner'"):
        users.grant(engine, "dan", "acct_a", "owner")
    with pytest.raises(users.UserError, match="no user 'eve'"):
        users.grant(engine, "eve", "acct_a", "viewer")


def test_user_add_from_the_command_line(tmp_path):
    runner = CliRunner()
    out = runner.invoke(actp, ["--data-dir", str(tmp_path), "studio", "user", "add", "erin", "--role", "approver",
                               "--account", "acct_a", "--account", "acct_b", "--password-stdin"],
                        input=PASSWORD + "\n")
    assert out.exit_code == 0, out.output
    engine = connect_store(f"sqlite:///{tmp_path / 'store.db'}")
    assert users.roles_of(engine, "erin") == {"acct_a": "approver", "acct_b": "approver"}
    assert users.authenticate(engine, "erin", PASSWORD).ok
    listed = runner.invoke(actp, ["--data-dir", str(tmp_path), "studio", "user", "list"])
    assert "erin\tactive\tacct_a\tapprover" in listed.output
    bad = runner.invoke(actp, ["--data-dir", str(tmp_path), "studio", "user", "add", "x", "--account", "a",
                               "--password-stdin"], input="short\n")
    assert bad.exit_code == 1 and "shorter than 10" in bad.output
