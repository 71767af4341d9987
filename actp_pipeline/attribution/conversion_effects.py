"""Factor effects read on conversions: which creative factors (and posting times) turn a click into a
conversion, with intervals, compared within fair cells.

The model is step 7's (score/factor_effects.py, `estimate_factor_effects`: a linear mixed model on the logit
of each post's rate, a free intercept per (platform, account) cell, the factor levels in sum-to-zero
coding, a random effect per creative, Student-t intervals), with another outcome: per post,
`converting_clicks` of its human `clicks` (attribution_posts: a click counts once however often it
converted, so the rate never passes 1), for the conversions of one event (ALL = any event, the default).
An ad's tracked link (channel paid) is a row of its own there, in its own cell (the ads platform and ad
account: "meta"/"tiktok" and the advertiser, never an organic post's account), so the cell's intercept takes
up how paid visitors convert differently and the factors are still compared within a channel.
A label reads "link in bio CTA: +40% (± 20%, 95% interval) conversion rate per click vs. average CTA".

What it does not say: how many clicks a factor earns (that is engagement and reach, step 7), nor revenue.
The rate is per click, so a factor that draws fewer but keener clickers can come out ahead.

Learning gate: a post needs MIN_CLICKS (20) human clicks. The engagement gate (100 views) would throw
nearly every organic post away here (clicks are a small fraction of views). Why 20: below ~20 clicks at the
usual conversion rates (1-10% per click) a post expects well under one conversion, and its logit is mostly
the continuity correction (0 of 10 clicks reads as logit(0.5 / 11), a 4.5% rate): such posts carry little
about their factors but pull every effect toward 0. benchmarks/conversion_gate.py (40 creatives, 160
posts, clicks per post lognormal, a planted +0.5 logit effect) measures it: with a median of 15 clicks per
post, no gate recovers 0.41 of the 0.5, gate 20 0.46 (intervals 30% wider: 64 of 160 posts kept), gate 50
leaves too few posts to fit; with a median of 40 clicks gate 20 keeps 122 of 160 posts, recovers 0.49 (no
gate 0.48) for intervals 4% wider; at 200 clicks the gate hardly matters. Coverage of the 95% intervals
stays 0.94-0.96 wherever a gate leaves enough posts to fit. As for engagement, there is no gate on conversions (selecting posts that
converted would inflate every effect). What is left of the pull toward 0 at few clicks is the empirical
logit's, not the gate's: a binomial likelihood would remove it.
tests/core/test_conversion_effects.py measures the intervals' coverage on simulated worlds.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from actp_pipeline.attribution.funnel import ALL
from actp_pipeline.score.factor_effects import DEFAULT_FACTORS, effect_columns, estimate_factor_effects

TRIALS, SUCCESSES = "clicks", "converting_clicks"
OUTCOME = "conversion rate per click"
MIN_CLICKS = 20
COLUMNS = effect_columns(TRIALS, SUCCESSES)  # EFFECT_COLUMNS with clicks, converting_clicks for views, engagements
# the variants' columns the model reads (length_bucket is derived from length_s when absent)
VARIANT_FACTORS = ("hook_pattern", "angle", "cta_style", "format", "length_bucket", "length_s")
POST_COLUMNS = ["idempotency_key", "variant_id", "platform", "account", "live_at", TRIALS, SUCCESSES]


def conversion_posts(posts: pd.DataFrame, variants: pd.DataFrame | None, event: str = ALL) -> pd.DataFrame:
    """One row per post: the `event` rows of the per-post funnel (attribution_posts) with the factors of the
    post's creative (variants, by variant_id; a creative missing from `variants` has no factors)."""
    if posts is None or posts.empty:
        return pd.DataFrame(columns=POST_COLUMNS)
    missing = [c for c in [*POST_COLUMNS, "event"] if c not in posts]
    if missing:
        raise ValueError(f"the per-post funnel lacks the column(s) {missing}")
    rows = posts.loc[posts["event"] == event, POST_COLUMNS].drop_duplicates("idempotency_key")
    if variants is None or variants.empty or "variant_id" not in variants:
        return rows.reset_index(drop=True)
    factors = [c for c in VARIANT_FACTORS if c in variants]
    v = variants.drop_duplicates("variant_id", keep="last")[["variant_id", *factors]]
    return rows.merge(v, on="variant_id", how="left").reset_index(drop=True)


def estimate_conversion_effects(posts: pd.DataFrame, variants: pd.DataFrame | None, *, event: str = ALL,
                                factors: Sequence[str] = DEFAULT_FACTORS, min_clicks: int = MIN_CLICKS,
                                level: float = 0.95, **model) -> pd.DataFrame:
    """One row per (factor, level): lift on the conversion rate per click vs. the factor's average level, with
    its `level` interval (COLUMNS; see estimate_factor_effects for the model and `model`'s keywords).
    ``attrs["reason"]`` says why nothing was estimated (e.g. too few posts with `min_clicks` clicks);
    ``attrs["event"]``, ``attrs["clicks"]`` and ``attrs["converting_clicks"]`` (over every post read) are
    added."""
    frame = conversion_posts(posts, variants, event)
    out = estimate_factor_effects(frame, factors=factors, level=level, min_trials=min_clicks, trials=TRIALS,
                                  successes=SUCCESSES, outcome=OUTCOME, **model)
    clicks = pd.to_numeric(frame[TRIALS], errors="coerce").fillna(0)
    converting = pd.to_numeric(frame[SUCCESSES], errors="coerce").fillna(0)
    out.attrs.update({"event": event, "posts_read": len(frame), "clicks": int(clicks.sum()),
                      "converting_clicks": int(converting.sum()),
                      "posts_over_gate": int((clicks >= min_clicks).sum()), "min_clicks": min_clicks})
    return out
