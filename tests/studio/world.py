"""A studio world: two accounts' creatives with approvals in the store, their scores, allocation, decisions and
attribution in the warehouse, a real MP4 per creative, and users with roles. Small for tests, large (10,000
creatives, 100,000 posts) for benchmarks/studio.py.

The shapes are the loop's own (the columns the demo's warehouse has); the numbers are drawn from a seeded RNG,
so every page has something true to show and a test can compute what the page should say.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pandas as pd
import sqlalchemy as sa

from actp_pipeline.approvals import decisions
from actp_pipeline.store import schema
from actp_pipeline.store.engine import connect_store
from actp_pipeline.store.warehouse import Warehouse
from actp_pipeline.studio import users

ACCOUNTS = ("acct_a", "acct_b")
PASSWORD = "correct horse battery"
# name -> (account, role)
PEOPLE = {"admin": ("*", "admin"), "alice": ("acct_a", "approver"), "victor": ("acct_a", "viewer"),
          "bob": ("acct_b", "approver"), "adam": ("acct_a", "admin")}
LEVELS = {"hook_pattern": ["pov", "question", "stat"], "angle": ["curiosity", "pain_point", "social_proof"],
          "cta_style": ["follow", "link", "comment"], "format": ["listicle", "testimonial", "text_hook"]}


@dataclass
class World:
    root: Path
    store_url: str
    warehouse_dir: Path
    media_dir: Path
    variants: pd.DataFrame  # variant_id, account, factors

    def of(self, account: str) -> list[str]:
        return self.variants.loc[self.variants["account"] == account, "variant_id"].tolist()


def make_video(path: Path, seconds: float = 2.0, text_color: str = "red") -> Path:
    """A real H.264 MP4 (ffmpeg's test pattern), small and quick."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    f"testsrc=size=180x320:rate=15:duration={seconds}", "-f", "lavfi", "-i",
                    f"color=c={text_color}:size=32x32:rate=15:duration={seconds}", "-filter_complex",
                    "[0][1]overlay=10:10", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
                    str(path)], check=True)
    return path


def _variants(rng: np.random.Generator, per_account: int) -> pd.DataFrame:
    rows = []
    for account in ACCOUNTS:
        for i in range(per_account):
            f = {k: v[int(rng.integers(len(v)))] for k, v in LEVELS.items()}
            vid = f"v_{account[-1]}{i:06d}"
            rows.append({"variant_id": vid, "account": account, "round_id": f"r_{account}", "topic": "skincare",
                         **f, "length_s": int(rng.integers(8, 20)), "hashtags": "#skincare #glow",
                         "hook": f"{f['hook_pattern']} hook {i}", "body_lines": "line one|line two",
                         "cta": f"{f['cta_style']} now", "caption": f"Caption {vid} for {account}",
                         "arm": i, "blueprint_id": "bp1", "design_note": "", "copy_source": "template",
                         "moderation": "approved", "moderation_reason": "passed moderation rules",
                         "moderation_findings": "[]"})
    return pd.DataFrame(rows)


def _posts(rng: np.random.Generator, variants: pd.DataFrame, posts_per_variant: int) -> pd.DataFrame:
    v = variants.loc[variants.index.repeat(posts_per_variant)].reset_index(drop=True)
    n = len(v)
    views = rng.integers(500, 50_000, n)
    er = rng.beta(3, 50, n)
    eng = (views * er).astype(int)
    alpha, beta = 1 + eng / 10, 1 + (views - eng) / 10
    sd = np.sqrt(alpha * beta / ((alpha + beta) ** 2 * (alpha + beta + 1)))
    mean = alpha / (alpha + beta)
    cell = (np.arange(n) // (posts_per_variant * 8)).astype(str)
    return pd.DataFrame({
        "post_id": [f"p{i}" for i in range(n)], "variant_id": v["variant_id"], "platform": "instagram",
        "account": v["account"], "cell_window": np.char.add("2026-06-01T06:00#", cell),
        "idempotency_key": [f"k{i}" for i in range(n)], "live_at": pd.Timestamp("2026-06-01 06:00"),
        "views": views, "engagements": eng, "engagement_rate": eng / views, "alpha": alpha, "beta": beta,
        "er_mean": mean, "er_low": np.clip(mean - 1.96 * sd, 0, 1), "er_high": np.clip(mean + 1.96 * sd, 0, 1),
        "credible_mass": 0.95, "p_best": rng.dirichlet(np.ones(8), n // 8 + 1).ravel()[:n],
        "hook_pattern": v["hook_pattern"], "angle": v["angle"], "cta_style": v["cta_style"],
        "format": v["format"], "length_s": v["length_s"], "hook": v["hook"], "status": "scored"})


def _store(engine, variants: pd.DataFrame, video: Path) -> None:
    now = schema.utcnow()
    with engine.begin() as conn:
        decisions.create(conn, [{"scope": "content", "subject_id": r.variant_id, "variant_id": r.variant_id,
                                 "account": r.account} for r in variants.itertuples()], by="world", reason="new")
        conn.execute(schema.render_jobs.insert(), [
            {"variant_id": r.variant_id, "payload": {}, "output_path": str(video), "status": "succeeded",
             "attempts": 1, "max_attempts": 3, "available_at": now, "created_at": now, "updated_at": now}
            for r in variants.itertuples()])
        for account in ACCOUNTS:
            conn.execute(schema.ad_accounts.insert().values(account_id=account, name=f"{account} ads",
                                                            auto_execute=False, updated_at=now))
    for name, (account, role) in PEOPLE.items():
        users.add_user(engine, name, PASSWORD, by="world")
        users.grant(engine, name, account, role, by="world")


def build(root: Path, per_account: int = 6, posts_per_variant: int = 2, seed: int = 7) -> World:
    """The world under `root` (store.db, warehouse/, media/)."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    store_url = f"sqlite:///{root / 'store.db'}"
    engine = connect_store(store_url)
    variants = _variants(rng, per_account)
    video = make_video(root / "media" / "clip.mp4")
    _store(engine, variants, video)
    wh = Warehouse(root / "warehouse")
    wh.write("variants", variants.drop(columns=["account"]))
    posts = _posts(rng, variants, posts_per_variant)
    wh.write("scores", posts)
    wh.write("decisions", posts.drop(columns=["p_best"]))
    engine.dispose()
    return World(root, store_url, root / "warehouse", root / "media", variants[["variant_id", "account",
                                                                                  *LEVELS]].copy())


def scalar(store_url: str, query: str) -> object:
    with connect_store(store_url).connect() as conn:
        return conn.execute(sa.text(query)).scalar()
