"""How the numbers read in a plan's reasons and notes: the evidence must survive the formatting.

Why: a cost per event of $0.0041 printed with two decimals reads "$0.00", and two different trends then
read "0.00 vs 0.00". So amounts keep their significant digits, whole cents read $1,234.56, counts read
12,345, shares read 0.4 % rather than 0 %.
"""

from __future__ import annotations

import math

from actp_pipeline.ads.goals import to_dollars


def _absent(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _trim(s: str) -> str:
    """Drop the trailing zeros of a decimal fraction ("0.00410" -> "0.0041", "2.50" -> "2.5")."""
    return s.rstrip("0").rstrip(".") if "." in s else s


def number(x: float | None, digits: int = 3) -> str:
    """`x` with at least `digits` significant digits, thousands separated: 0.0041, 0.412, 12.3, 1,234."""
    if _absent(x):
        return "n/a"
    x = float(x)
    if math.isinf(x) or x == 0:
        return f"{x:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    return _trim(f"{x:,.{decimals}f}")


def money(dollars: float | None) -> str:
    """Dollars as $1,234.56; an amount that whole cents would round away keeps 3 significant digits
    ($0.0041, $0.412), so a small cost per event is still evidence."""
    if _absent(dollars):
        return "n/a"
    x = float(dollars)
    sign, x = ("-" if x < 0 else ""), abs(x)
    if math.isinf(x):
        return f"{sign}$inf"
    whole_cents = abs(x * 100 - round(x * 100)) < 1e-6
    return f"{sign}${x:,.2f}" if x >= 1 or whole_cents else f"{sign}${number(x, 3)}"


def money_cents(cents: int) -> str:
    """Whole cents as dollars: 123456 -> $1,234.56."""
    return money(to_dollars(cents))


def count(n: float | None) -> str:
    """A count of events or impressions: 12,345 (a fractional count keeps two decimals: 2.5)."""
    if _absent(n):
        return "n/a"
    x = float(n)
    if math.isinf(x):
        return f"{x:g}"
    return f"{int(x):,}" if x.is_integer() else _trim(f"{x:,.2f}")


def percent(share: float | None) -> str:
    """A share as a percentage with its significant digits: 0.2 -> 20%, 0.004 -> 0.4%, 1/3 -> 33.3%."""
    return "n/a" if _absent(share) else f"{number(float(share) * 100, 3)}%"
