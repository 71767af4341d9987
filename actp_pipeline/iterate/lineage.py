"""The loop's lineage, queryable: market item -> blueprint -> variant -> post -> score.

Each link lives where it is written: a blueprint lists the market items behind it (`evidence_item_ids`),
a variant names its blueprint (`blueprint_id`), a post (store table `posts`) names its variant, and a score
(warehouse `scores`) names its post (`idempotency_key`, else platform + `post_id` = the post's external id).
The warehouse links are joined in DuckDB over the Parquet files; the posts come from the store.

One row per (market item, blueprint, variant, post); a link that does not exist yet leaves its columns
empty (a variant not posted yet has no post columns). A link whose column is not in the tables yet (older
tables) gives what can be joined without it and says so in `attrs["notes"]`; it never raises.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import sqlalchemy as sa

from actp_pipeline.store import schema
from actp_pipeline.store.warehouse import Warehouse

ITEM_COLUMNS = ["item_id", "item_platform", "item_author", "item_url", "item_engagement_rate", "item_day"]
POST_COLUMNS = ["post_platform", "account", "external_id", "post_url", "live_at", "idempotency_key"]
SCORE_COLUMNS = ["score", "er_mean", "er_low", "er_high", "p_best", "views", "status"]
COLUMNS = [*ITEM_COLUMNS, "blueprint_id", "variant_id", "round_id", *POST_COLUMNS, *SCORE_COLUMNS]


class _Duck:
    """A DuckDB connection with a view per warehouse table that has data, and those tables' columns."""

    def __init__(self, wh: Warehouse, tables: list[str]):
        self.con = duckdb.connect()
        self.columns: dict[str, set[str]] = {}
        for t in tables:
            if wh.exists(t):
                self.con.execute(f"CREATE VIEW {t} AS SELECT * FROM {wh.relation_sql(t)}")
                self.columns[t] = set(self.con.execute(f"DESCRIBE {t}").df()["column_name"])

    def has(self, table: str, *columns: str) -> bool:
        return table in self.columns and set(columns) <= self.columns[table]

    def df(self, sql: str, params: list) -> pd.DataFrame:
        return self.con.execute(sql, params).df()

    def close(self) -> None:
        self.con.close()


def _links(db: _Duck, variant_id: str | None, item_id: str | None, notes: list[str]) -> pd.DataFrame:
    """item_id, blueprint_id, variant_id, round_id of the asked variant or item."""
    empty = pd.DataFrame(columns=["item_id", "blueprint_id", "variant_id", "round_id"])
    evidence = db.has("blueprints", "blueprint_id", "evidence_item_ids")
    parent = db.has("variants", "variant_id", "blueprint_id")
    if not db.has("variants", "variant_id"):
        notes.append("no variants table yet: materialize variants")
    if not evidence:
        notes.append("blueprints carry no evidence_item_ids yet: the market items behind a blueprint are unknown")
    if not parent:
        notes.append("variants carry no blueprint_id yet: the blueprint behind a variant is unknown")
    round_col = "v.round_id" if db.has("variants", "round_id") else "NULL"
    if variant_id is not None:
        if not db.has("variants", "variant_id"):
            return empty
        bp = "v.blueprint_id" if parent else "NULL"
        ev = ("LEFT JOIN (SELECT blueprint_id AS b, unnest(evidence_item_ids) AS item_id FROM blueprints) e "
              "ON e.b = v.blueprint_id") if parent and evidence else ""
        item = "e.item_id" if ev else "NULL"
        return db.df(f"SELECT DISTINCT {item} AS item_id, {bp} AS blueprint_id, v.variant_id, {round_col} AS round_id "
                     f"FROM variants v {ev} WHERE v.variant_id = ?", [variant_id])
    if not (evidence and parent):
        return empty
    return db.df(f"SELECT DISTINCT e.item_id, e.blueprint_id, v.variant_id, {round_col} AS round_id FROM "
                 "(SELECT blueprint_id, unnest(evidence_item_ids) AS item_id FROM blueprints) e "
                 "LEFT JOIN variants v ON v.blueprint_id = e.blueprint_id WHERE e.item_id = ?", [item_id])


def _items(db: _Duck, ids: list[str]) -> pd.DataFrame:
    cols = {"platform": "item_platform", "author": "item_author", "url": "item_url",
            "engagement_rate": "item_engagement_rate", "collected_for": "item_day"}
    if not ids or not db.has("market_items", "item_id"):
        return pd.DataFrame(columns=ITEM_COLUMNS)
    have = [c for c in cols if db.has("market_items", c)]
    select = ", ".join(["item_id", *(f"{c} AS {cols[c]}" for c in have)])
    found = db.df(f"SELECT {select} FROM market_items WHERE item_id IN (SELECT unnest(?))", [ids])
    order = "item_day" if "item_day" in found else "item_id"
    return found.sort_values(order).drop_duplicates("item_id", keep="last").reindex(columns=ITEM_COLUMNS)


def _posts(engine: sa.Engine, variant_ids: list[str]) -> pd.DataFrame:
    p = schema.posts
    with engine.connect() as conn:
        rows = conn.execute(sa.select(p.c.variant_id, p.c.platform.label("post_platform"), p.c.account,
                                      p.c.external_id, p.c.url.label("post_url"), p.c.live_at, p.c.idempotency_key)
                            .where(p.c.variant_id.in_(variant_ids)).order_by(p.c.live_at, p.c.id)).mappings().all()
    return pd.DataFrame(rows, columns=["variant_id", *POST_COLUMNS])


def _scores(db: _Duck, variant_ids: list[str], notes: list[str]) -> pd.DataFrame:
    if not variant_ids or not db.has("scores", "variant_id"):
        if variant_ids:
            notes.append("no scores yet: materialize scores once posts have metrics")
        return pd.DataFrame(columns=["idempotency_key", "post_platform", "external_id", *SCORE_COLUMNS])
    cols = [c for c in SCORE_COLUMNS if db.has("scores", c)]
    keys = [c for c in ("idempotency_key", "platform", "post_id") if db.has("scores", c)]
    found = db.df(f"SELECT {', '.join([*keys, *cols])} FROM scores WHERE variant_id IN (SELECT unnest(?))",
                  [variant_ids])
    return found.rename(columns={"platform": "post_platform", "post_id": "external_id"})


def _with_scores(posts: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Each post with its score: by idempotency key, else by platform and external id."""
    if scores.empty or posts.empty:
        return posts.reindex(columns=[*posts.columns, *SCORE_COLUMNS])
    value_cols = [c for c in SCORE_COLUMNS if c in scores]
    if "idempotency_key" in scores:
        by = scores.drop_duplicates("idempotency_key")[["idempotency_key", *value_cols]]
        return posts.merge(by, on="idempotency_key", how="left")
    by = scores.drop_duplicates(["post_platform", "external_id"])[["post_platform", "external_id", *value_cols]]
    return posts.merge(by, on=["post_platform", "external_id"], how="left")


def lineage(wh: Warehouse, engine: sa.Engine, *, variant_id: str | None = None,
            item_id: str | None = None) -> pd.DataFrame:
    """The lineage of one variant (its blueprint, the market items behind it, its posts and their scores) or of
    one market item (the blueprints it is evidence for, their variants, posts and scores). COLUMNS; notes on
    what could not be joined in `attrs["notes"]`."""
    if (variant_id is None) == (item_id is None):
        raise ValueError("lineage: give exactly one of variant_id or item_id")
    notes: list[str] = []
    db = _Duck(wh, ["market_items", "blueprints", "variants", "scores"])
    try:
        links = _links(db, variant_id, item_id, notes)
        links = links.astype({c: object for c in links.columns})
        variant_ids = sorted({str(v) for v in links["variant_id"].dropna()})
        items = _items(db, sorted({str(i) for i in links["item_id"].dropna()}))
        scores = _scores(db, variant_ids, notes)
    finally:
        db.close()
    posts = _with_scores(_posts(engine, variant_ids), scores) if variant_ids else pd.DataFrame(columns=["variant_id"])
    out = links.merge(items, on="item_id", how="left").merge(posts, on="variant_id", how="left")
    if links.empty:
        notes.append(f"no lineage found for {'variant ' + variant_id if variant_id else 'market item ' + str(item_id)}")
    out = out.reindex(columns=COLUMNS).reset_index(drop=True)
    out.attrs["notes"] = notes
    return out
