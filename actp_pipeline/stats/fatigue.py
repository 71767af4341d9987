"""Creative fatigue: does a creative's core-event rate fall, or its CPM rise, as it is shown more?

Why a trend test with uncertainty: a creative's daily rate wobbles (audiences, weekdays, the auction), so
"today is worse than the first day" says nothing by itself. Each creative's series of buckets (days) is
regressed on its cumulative exposure:

- rate: a quasi-Poisson GLM with a log link, events_d ~ impressions_d * exp(a + b * x_d), x_d the
  impressions (in thousands) shown before the middle of bucket d. exp(b * span) - 1 is the relative change
  of the rate over the exposure observed (span = x_last - x_first). Extra-Poisson day-to-day noise is
  absorbed by the deviance dispersion (never below 1; Pearson's explodes on near-empty days), and
  intervals use Student t with n - 2 degrees of freedom, so four days of data give honest, wide intervals
  instead of confident noise. Half a pseudo event is spread over the buckets by exposure, which keeps the
  estimate finite when all events came early.
- CPM: log(cost per 1,000 impressions) on the same x by least squares weighted by impressions, t interval.

P(decay) = P(b < 0) and P(CPM rise) under the flat-prior (t) posterior of the slope. A creative is
`fatigued` when either test is confident (each at `p_fatigue`, 0.975 by default, so the two together keep
false alarms on stationary series near 5 %) AND the estimated change is material (the rate down at least
`min_drop`, or the CPM up at least `min_cpm_rise`, over the observed exposure). `too_little_data` when
neither test has `min_buckets` buckets (and the rate test `min_events` events); `stable` otherwise.

Numbers and frames in, results out: no store, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

FATIGUED, STABLE, TOO_LITTLE_DATA = "fatigued", "stable", "too_little_data"
SERIES_COLUMNS = ("creative", "bucket", "impressions", "events", "spend")
RESULT_COLUMNS = ["creative", "buckets", "impressions", "events", "spend", "rate_change", "rate_change_lo",
                  "rate_change_hi", "p_decay", "first_rate", "last_rate", "cpm_change", "cpm_change_lo",
                  "cpm_change_hi", "p_cpm_rise", "first_cpm", "last_cpm", "verdict", "why"]


@dataclass(frozen=True)
class FatigueRule:
    """When a creative counts as fatigued (see the module docstring)."""

    min_buckets: int = 4  # buckets (days) with impressions, for either test
    min_events: float = 20.0  # core events in the series, for the rate test
    p_fatigue: float = 0.975  # P(decay) or P(CPM rise) needed, per test
    min_drop: float = 0.20  # the rate must fall at least this much over the exposure observed ...
    min_cpm_rise: float = 0.25  # ... or the CPM rise at least this much
    mass: float = 0.90  # of the reported intervals

    def __post_init__(self) -> None:
        if not (isinstance(self.min_buckets, int) and self.min_buckets >= 3):
            raise ValueError("min_buckets must be an int >= 3 (a slope and its error need 3 points)")
        if not self.min_events >= 0:
            raise ValueError("min_events must be >= 0")
        for name in ("p_fatigue", "mass"):
            if not 0.5 < getattr(self, name) < 1:
                raise ValueError(f"{name} must be within (0.5, 1)")
        if not 0 <= self.min_drop < 1:
            raise ValueError("min_drop must be within [0, 1)")
        if not (self.min_cpm_rise >= 0 and math.isfinite(self.min_cpm_rise)):
            raise ValueError("min_cpm_rise must be a finite share >= 0")


@dataclass(frozen=True)
class Trend:
    """A slope per 1,000 impressions with its t-posterior: the change over `span`, its interval, P(slope<0)."""

    slope: float
    se: float
    df: int
    span: float  # thousand impressions between the first and the last bucket's midpoints

    def change(self, q: float | None = None) -> float:
        """exp(slope * span) - 1 (at the posterior quantile q of the slope, if given)."""
        from scipy.stats import t

        b = self.slope if q is None else self.slope + self.se * float(t.ppf(q, self.df))
        return float(np.expm1(np.clip(b * self.span, -700, 700)))

    def p_negative(self) -> float:
        from scipy.stats import t

        if self.se == 0:  # a perfect fit: the sign decides, and a flat line (to rounding) is a coin flip
            return 0.5 if abs(self.slope * self.span) < 1e-9 else float(self.slope < 0)
        return float(t.cdf(-self.slope / self.se, self.df))


def exposure(impressions: np.ndarray) -> np.ndarray:
    """Cumulative impressions (thousands) at the middle of each bucket."""
    n = np.asarray(impressions, dtype=float)
    return (np.cumsum(n) - n / 2) / 1000.0


def rate_trend(impressions, events) -> Trend:
    """Quasi-Poisson log-link slope of events per impression on cumulative exposure (buckets with
    impressions > 0 only; needs at least 3)."""
    n = np.asarray(impressions, dtype=float)
    y = np.asarray(events, dtype=float)
    keep = n > 0
    x_all = exposure(n)
    n, y, x = n[keep], y[keep], x_all[keep]
    k = len(n)
    if k < 3:
        raise ValueError("a rate trend needs at least 3 buckets with impressions")
    y = y + 0.5 * n / n.sum()  # half a pseudo event spread by exposure: finite when events all came early
    xc = x - np.average(x, weights=n)
    X = np.column_stack([np.ones(k), xc])
    beta = np.array([math.log(y.sum() / n.sum()), 0.0])
    for _ in range(50):  # IRLS
        mu = n * np.exp(X @ beta)
        z = X @ beta + (y - mu) / mu
        XtW = X.T * mu
        new = np.linalg.solve(XtW @ X, XtW @ z)
        done = np.max(np.abs(new - beta)) < 1e-10
        beta = new
        if done:
            break
    mu = n * np.exp(X @ beta)
    dev = 2 * float(np.sum(np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0) - (y - mu)))
    phi = max(1.0, dev / (k - 2))
    cov = np.linalg.inv((X.T * mu) @ X) * phi
    return Trend(float(beta[1]), float(math.sqrt(max(cov[1, 1], 0.0))), k - 2, float(x.max() - x.min()))


def cpm_trend(impressions, spend) -> Trend:
    """Slope of log CPM on cumulative exposure, least squares weighted by impressions (buckets with
    impressions and spend > 0 only; needs at least 3)."""
    n = np.asarray(impressions, dtype=float)
    s = np.asarray(spend, dtype=float)
    x_all = exposure(n)
    keep = (n > 0) & (s > 0)
    n, s, x = n[keep], s[keep], x_all[keep]
    k = len(n)
    if k < 3:
        raise ValueError("a CPM trend needs at least 3 buckets with impressions and spend")
    w = n / n.sum()
    y = np.log(1000.0 * s / n)
    xm, ym = np.sum(w * x), np.sum(w * y)
    sxx = np.sum(w * (x - xm) ** 2)
    if sxx <= 0:
        return Trend(0.0, math.inf, k - 2, 0.0)
    b = float(np.sum(w * (x - xm) * (y - ym)) / sxx)
    resid = y - ym - b * (x - xm)
    se = math.sqrt(float(np.sum(w * resid ** 2)) / (k - 2) / sxx)  # Var(y_d) = sigma^2 / w_d; scale-free in w
    return Trend(b, se, k - 2, float(x.max() - x.min()))


def assess_one(impressions, events, spend, rule: FatigueRule = FatigueRule()) -> dict:
    """The fatigue verdict of one creative's series (buckets in time order), with the numbers behind it."""
    n = np.asarray(impressions, dtype=float)
    y = np.asarray(events, dtype=float)
    s = np.asarray(spend, dtype=float)
    shown = n > 0
    out = {"buckets": int(shown.sum()), "impressions": float(n.sum()), "events": float(y.sum()),
           "spend": float(s.sum())}
    out.update(dict.fromkeys(("rate_change", "rate_change_lo", "rate_change_hi", "p_decay", "first_rate",
                              "last_rate", "cpm_change", "cpm_change_lo", "cpm_change_hi", "p_cpm_rise",
                              "first_cpm", "last_cpm"), math.nan))
    lo_q, hi_q = (1 - rule.mass) / 2, (1 + rule.mass) / 2
    why = []
    fired = tested = False
    if out["buckets"] >= rule.min_buckets and out["events"] >= rule.min_events:
        tr = rate_trend(n, y)
        tested = True
        idx = np.flatnonzero(shown)
        out.update(rate_change=tr.change(), rate_change_lo=tr.change(lo_q), rate_change_hi=tr.change(hi_q),
                   p_decay=tr.p_negative(), first_rate=y[idx[0]] / n[idx[0]], last_rate=y[idx[-1]] / n[idx[-1]])
        hit = out["p_decay"] >= rule.p_fatigue and out["rate_change"] <= -rule.min_drop
        fired |= hit
        why.append(f"rate {_pct(out['rate_change'])} over {out['impressions']:,.0f} impressions "
                   f"({rule.mass:.0%} interval {_pct(out['rate_change_lo'])} to {_pct(out['rate_change_hi'])}), "
                   f"P(decay) = {out['p_decay']:.3f}" + (" >= " if hit else " (needs >= ")
                   + f"{rule.p_fatigue:g} and <= -{rule.min_drop:.0%}" + ("" if hit else ")"))
    paid = shown & (s > 0)
    if paid.sum() >= rule.min_buckets:
        tr = cpm_trend(n, s)
        tested = True
        idx = np.flatnonzero(paid)
        out.update(cpm_change=tr.change(), cpm_change_lo=tr.change(lo_q), cpm_change_hi=tr.change(hi_q),
                   p_cpm_rise=1 - tr.p_negative(), first_cpm=1000 * s[idx[0]] / n[idx[0]],
                   last_cpm=1000 * s[idx[-1]] / n[idx[-1]])
        hit = out["p_cpm_rise"] >= rule.p_fatigue and out["cpm_change"] >= rule.min_cpm_rise
        fired |= hit
        why.append(f"CPM {_pct(out['cpm_change'])} ({rule.mass:.0%} interval {_pct(out['cpm_change_lo'])} to "
                   f"{_pct(out['cpm_change_hi'])}), P(rise) = {out['p_cpm_rise']:.3f}"
                   + (" >= " if hit else " (needs >= ") + f"{rule.p_fatigue:g} and >= +{rule.min_cpm_rise:.0%}"
                   + ("" if hit else ")"))
    if not tested:
        out["verdict"] = TOO_LITTLE_DATA
        why.append(f"{out['buckets']} bucket(s) with impressions and {out['events']:g} events (needs "
                   f"{rule.min_buckets} buckets, and {rule.min_events:g} events for the rate test)")
    else:
        out["verdict"] = FATIGUED if fired else STABLE
    out["why"] = "; ".join(why)
    return out


def _pct(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x * 100:+.1f}%"


def assess(series: pd.DataFrame, rule: FatigueRule = FatigueRule()) -> pd.DataFrame:
    """Per creative of a frame (creative, bucket, impressions, events, spend; several rows of one bucket are
    summed): the estimates, their intervals, P(decay), P(CPM rise) and a verdict, one row per creative."""
    missing = [c for c in SERIES_COLUMNS if c not in series.columns]
    if missing:
        raise ValueError(f"fatigue series lacks column(s) {missing}")
    if series.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    per = series.groupby(["creative", "bucket"], sort=True)[["impressions", "events", "spend"]].sum()
    rows = []
    for creative, part in per.groupby(level=0, sort=True):
        res = assess_one(part["impressions"].to_numpy(), part["events"].to_numpy(), part["spend"].to_numpy(), rule)
        rows.append({"creative": creative, **res})
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)

