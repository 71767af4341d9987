"""Which account a creative belongs to, so every page reads only what the user may see.

A creative's account is the account key of the round that made it: the `account` of its content approval row
(generate/round_record.py writes it; "*" is the single-team default, seen only by users with a "*" grant). Posts,
scores, metrics and attribution rows belong to their variant's account, and an ad plan's actions to their ad
account (`account_id`). A variant with no content approval row belongs to no account: only "*" users see it.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from actp_pipeline.store import schema
from actp_pipeline.studio.access import Access
from actp_pipeline.studio.users import ALL


def variant_accounts(engine: Engine, variant_ids: list[str] | None = None) -> dict[str, str]:
    """variant_id -> its round's account key (from the content approval rows)."""
    t = schema.approvals
    q = sa.select(t.c.subject_id, t.c.account).where(t.c.scope == "content")
    if variant_ids is not None:
        q = q.where(t.c.subject_id.in_(list(variant_ids)))
    with engine.connect() as conn:
        return {r.subject_id: (r.account or ALL) for r in conn.execute(q)}


def account_of(engine: Engine, variant_id: str) -> str:
    return variant_accounts(engine, [variant_id]).get(variant_id, ALL)


def visible_variants(engine: Engine, access: Access) -> set[str] | None:
    """The variant ids the user may see; None = all of them (a "*" grant)."""
    if access.sees_all:
        return None
    t = schema.approvals
    with engine.connect() as conn:
        return {r.subject_id for r in conn.execute(sa.select(t.c.subject_id).where(
            t.c.scope == "content", t.c.account.in_(sorted(access.roles))))}


def keep_visible(frame: pd.DataFrame, visible: set[str] | None, column: str = "variant_id") -> pd.DataFrame:
    """The rows of `frame` whose `column` is a visible variant (all rows when `visible` is None)."""
    if visible is None or frame.empty:
        return frame
    return frame[frame[column].astype(str).isin(visible)]
