"""The numbers in the ads plan's reasons and notes keep their evidence: significant digits for small
amounts, dollars with cents, counts with thousands separators, shares below one percent."""

from __future__ import annotations

import math

import pytest

from actp_pipeline.ads.plan.figures import count, money, money_cents, number, percent


@pytest.mark.parametrize("x,text", [(0.0041, "0.0041"), (0.00412345, "0.00412"), (0.412, "0.412"), (12.345, "12.3"),
                                    (12345.6, "12,346"), (0, "0"), (math.inf, "inf"), (math.nan, "n/a"),
                                    (None, "n/a")])
def test_number_keeps_three_significant_digits(x, text):
    assert number(x) == text


@pytest.mark.parametrize("x,text", [(0.0041, "$0.0041"), (0.41, "$0.41"), (0.4123, "$0.412"), (10.01, "$10.01"),
                                    (1234.5, "$1,234.50"), (12.3456, "$12.35"), (0.0, "$0.00"), (-2.5, "-$2.50"),
                                    (math.inf, "$inf"), (math.nan, "n/a")])
def test_money_reads_in_cents_unless_cents_would_round_it_away(x, text):
    assert money(x) == text


def test_money_cents_counts_and_percentages():
    assert money_cents(123456) == "$1,234.56" and money_cents(100) == "$1.00"
    assert count(12345.0) == "12,345" and count(3) == "3" and count(2.5) == "2.5" and count(math.nan) == "n/a"
    assert percent(0.2) == "20%" and percent(0.004) == "0.4%" and percent(1 / 3) == "33.3%"


def test_two_different_small_costs_read_differently():
    assert money(0.00412) != money(0.00409) and money(0.004) != money(0.0)
