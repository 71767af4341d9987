"""`actp plan-test`: how many days, impressions and dollars a creative test needs, before it is launched.

The figures come from simulating the pipeline's own stopping rule and identify-mode allocation
(actp_pipeline/stats/planner.py), not from a formula; the textbook fixed-horizon A/B size is shown beside
them because it is what people expect and it is usually wrong for a rule that looks every day.
"""

from __future__ import annotations

import json

import click

from actp_pipeline.stats.planner import (QUANTILE_HEADER, PlanInputs, plan_test, quantile_rows, rate_header,
                                         rate_rows, reading)

D = PlanInputs()  # the defaults live in one place: the planner's inputs


def _inputs(arms: int, baseline: float, lift: float, confidence: float, daily_impressions: int | None,
            daily_budget: float | None, cpm: float, max_days: int, post_noise: float, worlds: int,
            seed: int) -> PlanInputs:
    """The planner's inputs from the options; a bad combination is a usage error (one line, exit 2)."""
    if daily_impressions is not None and daily_budget is not None:
        raise click.UsageError("give --daily-impressions or --daily-budget, not both")
    if daily_budget is not None:
        if not cpm > 0:
            raise click.UsageError("cpm must be > 0 (dollars per 1,000 impressions)")
        daily_impressions = int(round(daily_budget / cpm * 1000.0))
    try:
        return PlanInputs(arms=arms, baseline=baseline, lift=lift, confidence=confidence,
                          daily_impressions=D.daily_impressions if daily_impressions is None else daily_impressions,
                          cpm=cpm, max_days=max_days, post_noise=post_noise, worlds=worlds, seed=seed)
    except ValueError as e:
        raise click.UsageError(str(e)) from None


def _print(plan) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, emoji=False)
    i = plan.inputs
    main = Table(title=f"Test plan: {i.arms} creatives, baseline {i.baseline:.2%}, lift {i.lift:.0%}, "
                       f"confidence {i.confidence * 100:g}%, {i.daily_impressions:,} impressions/day at ${i.cpm:.2f} CPM",
                 caption=f"{i.worlds} simulated tests per scenario, seed {i.seed}, horizon {i.max_days} days; "
                         "textbook A/B = fixed-horizon z-test at 80% power, looked at once")
    for j, name in enumerate(QUANTILE_HEADER):
        main.add_column(name, justify="left" if j == 0 else "right")
    for row in quantile_rows(plan):
        main.add_row(*row)
    rates = Table()
    for j, name in enumerate(rate_header(plan)):
        rates.add_column(name, justify="left" if j == 0 else "right")
    for row in rate_rows(plan):
        rates.add_row(*row)
    console.print(main, markup=False)
    console.print(rates, markup=False)
    console.print(reading(plan), markup=False, soft_wrap=False)


def make() -> click.Command:
    @click.command("plan-test")
    @click.option("--arms", type=int, default=D.arms, help="creatives in the test cell")
    @click.option("--baseline", type=float, default=D.baseline,
                  help="engagement rate of an ordinary creative (0.03 = 3%)")
    @click.option("--lift", type=float, default=D.lift, help="smallest relative lift worth finding (0.2 = 20% better)")
    @click.option("--confidence", type=float, default=D.confidence, help="the stopping rule's confidence")
    @click.option("--daily-impressions", type=int, default=None, show_default=f"{D.daily_impressions:,}",
                  help="impressions a day, all creatives together")
    @click.option("--daily-budget", type=float, default=None, show_default="from --daily-impressions",
                  help="dollars a day instead of --daily-impressions (converted at --cpm)")
    @click.option("--cpm", type=float, default=D.cpm, show_default=f"{D.cpm:.2f} ($5 = 1,500 impressions)",
                  help="dollars per 1,000 impressions")
    @click.option("--max-days", type=int, default=D.max_days, help="horizon: the longest the test may run")
    @click.option("--post-noise", type=float, default=D.post_noise,
                  help="coefficient of variation of a post's rate around its creative's (0: binomial only)")
    @click.option("--worlds", type=int, default=D.worlds, help="simulated tests per scenario (lifted, dead heat)")
    @click.option("--seed", type=int, default=D.seed, help="random seed: the same inputs and seed give the same plan")
    @click.option("--json", "as_json", is_flag=True, help="print the plan as JSON instead of tables")
    def plan(arms: int, baseline: float, lift: float, confidence: float, daily_impressions: int | None,
             daily_budget: float | None, cpm: float, max_days: int, post_noise: float, worlds: int, seed: int,
             as_json: bool) -> int:
        """Plan a creative test: the days, impressions and budget the pipeline's stopping rule needs to find a
        creative LIFT better than BASELINE among ARMS, by simulating that rule; with the chance to find it,
        the false-winner rate when all creatives are equal, and the textbook A/B size for comparison."""
        inputs = _inputs(arms, baseline, lift, confidence, daily_impressions, daily_budget, cpm, max_days,
                         post_noise, worlds, seed)
        from actp_pipeline.commands.progress import Bars

        with Bars() as bars:
            task = bars.bar("simulating days", inputs.max_days)
            result = plan_test(inputs, on_day=lambda day: bars.progress.update(task, completed=day))
        if as_json:
            click.echo(json.dumps(result.as_dict(), indent=2))
        else:
            _print(result)
        return 0

    return plan
