"""A studio world: two accounts' creatives with approvals in the store, their scores, allocation, decisions and
attribution in the warehouse, a real MP4 per creative, and users with roles. Small for tests, large (10,000
creatives, 100,000 posts) for benchmarks/studio.py.

The shapes are the loop's own (the columns the demo's warehouse has); the numbers are drawn from a seeded RNG,
so every page has something true to show and a test can compute what the page should say. As in the loop, a
post's `account` is the posting account ("main" for both): only the content approval rows say which studio
account a creative is in, so a page that scoped by the posting account would leak and its test would see it.
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
        "account": "main",  # the posting account, as in the loop's tables (not the studio's account key)
        "cell_window": np.char.add("2026-06-01T06:00#", cell),
        "idempotency_key": [f"k{i}" for i in range(n)], "live_at": pd.Timestamp("2026-06-01 06:00"),
        "views": views, "engagements": eng, "engagement_rate": eng / views, "alpha": alpha, "beta": beta,
        "er_mean": mean, "er_low": np.clip(mean - 1.96 * sd, 0, 1), "er_high": np.clip(mean + 1.96 * sd, 0, 1),
        "credible_mass": 0.95, "p_best": rng.dirichlet(np.ones(8), n // 8 + 1).ravel()[:n],
        "hook_pattern": v["hook_pattern"], "angle": v["angle"], "cta_style": v["cta_style"],
        "format": v["format"], "length_s": v["length_s"], "hook": v["hook"], "status": "scored"})


def _decisions(posts: pd.DataFrame) -> pd.DataFrame:
    """The winner rule's columns: a creative's P(best) is one number per cell (its posts' mean), the cell's
    leader wins when that is over 0.3, the reason says so in words (score/winners.py's shape)."""
    out = posts.copy()
    out["p_best"] = out.groupby(["variant_id", "cell_window"])["p_best"].transform("mean")
    top = out.groupby("cell_window")["p_best"].transform("max")
    win = (out["p_best"] == top) & (out["p_best"] > 0.3)
    out["decision"] = np.where(win, "winner", "not_yet")
    out["reason"] = [f"P(best) {p:.2f} {'over' if w else 'under'} the bar" for p, w in zip(out["p_best"], win)]
    out["cell_reason"] = out["reason"]
    return out


def _allocation(posts: pd.DataFrame) -> pd.DataFrame:
    g = posts.groupby(["platform", "account", "cell_window", "variant_id"], as_index=False).agg(
        posts=("post_id", "size"), views=("views", "sum"), engagements=("engagements", "sum"),
        er_mean=("er_mean", "mean"), p_best=("p_best", "mean"))
    g["sufficient"] = g["posts"] >= 2
    g["share"] = g["p_best"] / g.groupby("cell_window")["p_best"].transform("sum")
    g["next_round_posts"] = (g["share"] * 10).round().astype(int)
    g["next_round_ad_budget"] = (g["share"] * 10).round(2)
    g["policy"], g["mode"], g["mode_reason"] = "top_two_thompson", "identify", "identify: no winner yet (no_clear_best)"
    return g


def _attribution(rng: np.random.Generator, variants: pd.DataFrame) -> pd.DataFrame:
    n = len(variants)
    clicks = rng.integers(0, 400, n)
    views = (clicks * rng.uniform(0.7, 1.0, n)).astype(int)
    conv = rng.binomial(views, 0.03)
    spend = rng.uniform(0, 40, n).round(2)
    frame = pd.DataFrame({"variant_id": variants["variant_id"], "platform": "*", "channel": "*", "event": "*",
                          "posts": 1, "links": 1, "clicks": clicks, "bot_clicks": 0, "visitors": clicks,
                          "page_views": views, "landed_clicks": views, "conversions": conv,
                          "converting_clicks": conv, "spend": spend, "spend_currency": "USD"})
    frame["landing_rate"] = np.where(clicks > 0, views / np.maximum(clicks, 1), np.nan)
    frame["conversion_rate"] = np.where(clicks > 0, conv / np.maximum(clicks, 1), np.nan)
    frame["rate_low"], frame["rate_high"] = frame["conversion_rate"] * 0.5, frame["conversion_rate"] * 1.5
    frame["interval_level"] = 0.95
    frame["cost_per_conversion"] = np.where(conv > 0, spend / np.maximum(conv, 1), np.nan)
    frame["revenue_USD"] = conv * 29.0
    frame["revenue_per_click_USD"] = np.where(clicks > 0, frame["revenue_USD"] / np.maximum(clicks, 1), 0.0)
    return frame


def _effects(rng: np.random.Generator, counts: str) -> pd.DataFrame:
    rows = []
    for factor, levels in LEVELS.items():
        for level in levels:
            effect = float(rng.normal(0, 0.2))
            half = float(rng.uniform(0.05, 0.3))
            rows.append({"factor": factor, "level": level, "effect": effect, "low": effect - half,
                         "high": effect + half, "logit_effect": effect, "logit_low": effect - half,
                         "logit_high": effect + half, "logit_se": half / 1.96, "interval_level": 0.95,
                         "n_posts": int(rng.integers(10, 1000)), "n_creatives": int(rng.integers(5, 300)),
                         counts: int(rng.integers(1000, 100000)),
                         "label": f"{level} {factor}: {effect:+.0%} (± {half:.0%}, 95% interval) vs. average"})
    return pd.DataFrame(rows)


def _timing(rng: np.random.Generator) -> pd.DataFrame:
    grid = pd.MultiIndex.from_product([["instagram", "tiktok"], range(7), range(24)],
                                      names=["platform", "weekday", "hour"]).to_frame(index=False)
    grid["n_posts"] = rng.integers(0, 40, len(grid))
    grid["expected"] = rng.uniform(0.02, 0.08, len(grid))
    grid["raw_mean"] = grid["expected"]
    grid["hour_prior"] = 0.05
    grid["lift"] = grid["expected"] / 0.05 - 1
    grid["metric"] = "engagement_rate"
    return grid


def _ad_plans(engine, variants: pd.DataFrame, actions_per_account: int) -> None:
    now = schema.utcnow()
    with engine.begin() as conn:
        for account in ACCOUNTS:
            plan = run = f"plan-world-{account}"  # a dry run's run_id is its plan_id (ads.audit.record_plan)
            conn.execute(schema.ads_automation_runs.insert().values(
                run_id=run, plan_id=plan, mode="dry_run", trigger="test", as_of=now, started_at=now,
                finished_at=now, status="success", accounts=[account], summary={"actions": actions_per_account}))
            ids = variants.loc[variants["account"] == account, "variant_id"].tolist()
            conn.execute(schema.ads_automation_actions.insert(), [
                {"run_id": run, "plan_id": plan, "seq": i, "account_id": account, "goal": "streams",
                 "action": "scale_budget" if i % 3 else "create_campaign", "rule": "winner",
                 "target_id": f"adset-{account}-{i}", "variant_id": ids[i % len(ids)],
                 "status": "blocked" if i % 7 == 0 else "dry_run", "blocked_by": "daily_cap" if i % 7 == 0 else None,
                 "reason": f"P(best) {0.5 + (i % 5) / 10:.2f} over the promotion bar", "params": {"budget": 5 + i},
                 "metrics": {"p_best": 0.9}, "at": now, "created_at": now} for i in range(actions_per_account)])


def _store(engine, variants: pd.DataFrame, video: Path) -> None:
    now = schema.utcnow()
    with engine.begin() as conn:
        decisions.create(conn, [{"scope": "content", "subject_id": r.variant_id, "variant_id": r.variant_id,
                                 "account": r.account} for r in variants.itertuples()], by="world", reason="new")
        decisions.create(conn, [{"scope": "strategy", "subject_id": a, "account": a} for a in ACCOUNTS],
                         by="world", reason="new")
        decisions.move(conn, [decisions.get(conn, "strategy", a) for a in ACCOUNTS], "approved", by="world",
                       reason="the world's strategy")
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


def build(root: Path, per_account: int = 6, posts_per_variant: int = 2, seed: int = 7,
          actions_per_account: int = 12) -> World:
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
    wh.write("decisions", _decisions(posts))
    wh.write("allocation", _allocation(posts))
    wh.write("attribution", _attribution(rng, variants))
    wh.write("factor_effects", _effects(rng, "engagements"))
    wh.write("conversion_effects", _effects(rng, "converting_clicks"))
    wh.write("timing_matrix", _timing(rng))
    _ad_plans(engine, variants, actions_per_account)
    engine.dispose()
    return World(root, store_url, root / "warehouse", root / "media", variants[["variant_id", "account",
                                                                                  *LEVELS]].copy())


def scalar(store_url: str, query: str) -> object:
    with connect_store(store_url).connect() as conn:
        return conn.execute(sa.text(query)).scalar()
