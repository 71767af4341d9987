"""No OAuth token in logs, files, CLI output, error messages or Dagster's storage (issue 11 item 6; the
pattern of test_secret_scan.py, for the tokens of actp_pipeline/accounts).

Accounts are connected through `actp accounts connect` against a sandbox, their tokens used and refreshed
(after a 401, and inside Meta's margin), a Dagster asset asks for a token the way a publisher
does and reports the accounts' status as metadata; then every byte written (the store, the sandbox's state,
Dagster's storage), every log record at DEBUG and every line the CLI printed is scanned for every token
the sandbox minted (access and refresh, old and new)."""

from __future__ import annotations

import datetime as dt
import logging
import webbrowser
from pathlib import Path

import dagster as dg
import httpx
import sqlalchemy as sa

from actp_pipeline.accounts import TokenCipher, get_token, keygen, list_accounts
from actp_pipeline.cli import main
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.store import connect_store
from actp_pipeline.store.schema import account_tokens

START = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _leaks(root: Path, secrets: set[str]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{s[:6]}... in {path.relative_to(root)}" for s in secrets if s.encode() in data]
    return found


def _stored_tokens(engine, cipher) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(account_tokens.c.access_token, account_tokens.c.refresh_token)).all()
    return {cipher.decrypt(v) for r in rows for v in r if v}


def test_tokens_stay_out_of_logs_files_cli_and_dagster(tmp_path, monkeypatch, capsys):
    logs = Collect()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(logs)
    root.setLevel(logging.DEBUG)
    key = keygen()
    seen: set[str] = set()
    try:
        with SandboxServer(WorldConfig(start=START, truth_token="truth"), state_path=tmp_path / "sandbox.db") as sb:
            monkeypatch.setenv("ACTP_HOME", str(tmp_path / "data"))
            monkeypatch.setenv("ACTP_PLATFORM_URL", sb.url)
            monkeypatch.setenv("ACTP_TOKEN_KEY", key)
            for name in ("ACTP_DATABASE_URL", "ACTP_OAUTH_URL"):
                monkeypatch.delenv(name, raising=False)
            monkeypatch.setattr(webbrowser, "open",
                                lambda url: httpx.get(url + "&approve=1", follow_redirects=True, timeout=30))
            for platform in ("tiktok", "youtube", "meta"):
                assert main(["accounts", "connect", platform, "--timeout", "30"]) == 0
            engine = connect_store(f"sqlite:///{tmp_path / 'data' / 'store.db'}")
            cipher = TokenCipher.from_env()
            seen |= _stored_tokens(engine, cipher)
            for platform in ("tiktok", "youtube"):  # the platform answered 401: refreshed at once
                get_token(engine, platform, "main", cipher=cipher, rejected=get_token(engine, platform, "main"))
            in_55_days = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(days=55)  # inside Meta's week of margin
            get_token(engine, "meta", "main", cipher=cipher, now=in_55_days)
            seen |= _stored_tokens(engine, cipher)

            @dg.asset
            def posts(context):
                token = get_token(engine, "tiktok", "main")  # what a publisher does
                r = httpx.post(sb.url + "/v2/post/publish/creator_info/query/",
                               headers={"Authorization": f"Bearer {token}"}, timeout=30)
                assert r.status_code == 200
                context.log.info(f"creator_info answered {r.status_code}")
                status = {f"{a.platform}/{a.account}": f"{a.status} until {a.access_expires_at}"
                          for a in list_accounts(engine)}
                return dg.MaterializeResult(metadata={"accounts": dg.MetadataValue.json(status)})

            (tmp_path / "dagster").mkdir()
            with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
                assert dg.materialize([posts], instance=instance).success
                texts = [e.to_json() for run in instance.get_runs() for e in instance.all_logs(run.run_id)]
            assert main(["accounts", "list"]) == 0
    finally:
        root.removeHandler(logs)
        root.setLevel(old_level)
    out = capsys.readouterr()
    assert len(seen) >= 8, sorted(s[:5] for s in seen)  # 3 connects + 3 refreshes: access tokens, and TikTok's and Google's refresh tokens
    assert "tiktok/main: connected" in out.out
    printed = out.out + out.err + "\n".join(logs.lines) + "\n".join(texts)
    assert [s[:6] for s in seen if s in printed] == []
    assert _leaks(tmp_path, seen) == []
    assert any("HTTP Request" in line for line in logs.lines)  # the scan saw httpx's request log
