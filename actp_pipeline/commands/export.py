"""`actp export kit`: a round's campaign kit (ZIP) for posting by hand; `actp lineage`: where a variant or a
market item came from and what became of it (market item -> blueprint -> variant -> post -> score)."""

from __future__ import annotations

from pathlib import Path

import click

from actp_pipeline.commands.context import settings


def _loop():
    """The loop's settings (targets, hooks URL) as the deployment sets them (ACTP_LOOP_*)."""
    from resources.loop import loop_from_env

    try:
        return loop_from_env()
    except ValueError as e:
        raise click.ClickException(f"actp export kit: {e}") from None


def _kit(round_id: str | None, out: str | None, targets: tuple[str, ...], tz: tuple[str, ...]) -> int:
    from actp_pipeline.export.kit import export_kit
    from actp_pipeline.export.schedule import parse_timezones
    from actp_pipeline.publish.publish_schedule import Target
    from actp_pipeline.store import connect_store
    from actp_pipeline.store.warehouse import Warehouse

    s = settings()
    loop = _loop()
    try:
        chosen = [Target.parse(t) for t in targets] if targets else loop.target_list()
        zones = parse_timezones(tz)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--target/--tz") from None
    try:
        kit = export_kit(connect_store(s.store_url), Warehouse(s.warehouse_dir), Path(out) if out else s.data_dir / "exports",
                         targets=chosen, round_id=round_id, timezones=zones, hooks_url=loop.hooks_url,
                         rules=loop.slot_rules())
    except LookupError as e:
        raise click.ClickException(f"actp export kit: {e.args[0] if e.args else e}") from None
    click.echo(f"{kit.path}: round {kit.campaign} ({kit.topic}), {len(kit.exported)} videos, {kit.rows} posts "
               f"for {', '.join(kit.targets)}; {len(kit.left_out)} left out (see MANIFEST.json)")
    for row in kit.left_out[:20]:
        click.echo(f"  left out {row['variant_id']}: {row['reason']}")
    return 0


def make() -> click.Group:
    @click.group("export")
    def export() -> None:
        """Export what the loop made for people who post by hand."""

    @export.command("kit")
    @click.option("--round", "round_id", default=None, show_default="the newest round",
                  help="the round (variants' round_id) to export")
    @click.option("--out", type=click.Path(dir_okay=True), default=None, show_default="DATA_DIR/exports",
                  help="a .zip file to write, or a folder for actp-kit-ROUND.zip")
    @click.option("--target", "targets", multiple=True, show_default="the loop's targets (ACTP_LOOP_TARGETS)",
                  help="platform:account to schedule the videos for; repeat for several")
    @click.option("--tz", multiple=True, help="an account's time zone for local posting times, as "
                  "platform:account=Area/City (e.g. tiktok:main=Europe/Berlin); repeat for several")
    def kit(round_id: str | None, out: str | None, targets: tuple[str, ...], tz: tuple[str, ...]) -> int:
        """Write a ZIP with the round's approved, rendered videos, a caption per post and schedule.csv; the
        variants left out are listed in its MANIFEST.json with the reason."""
        return _kit(round_id, out, targets, tz)

    return export


def _tree(frame, title: str):
    """A rich Tree: variant -> blueprint -> market items, and variant -> posts -> scores."""
    from rich.markup import escape as e
    from rich.tree import Tree

    root = Tree(e(title))
    for vid, g in frame.groupby("variant_id", dropna=False, sort=False):
        label = "variant (none)" if vid is None or vid != vid else f"variant [bold]{e(str(vid))}[/]"
        if g["round_id"].notna().any():
            label += f" round {e(str(g['round_id'].dropna().iloc[0]))}"
        node = root.add(label)
        for bp, items in g.groupby("blueprint_id", dropna=True, sort=False):
            branch = node.add(f"blueprint {e(str(bp))}")
            for it in items.drop_duplicates("item_id").itertuples():
                if it.item_id == it.item_id and it.item_id is not None:
                    er = f", engagement {it.item_engagement_rate:.2%}" if it.item_engagement_rate == it.item_engagement_rate \
                        and it.item_engagement_rate is not None else ""
                    branch.add(e(f"market item {it.item_id} ({it.item_platform}, {it.item_day}{er}) {it.item_url or ''}"))
        for post in g.dropna(subset=["external_id"]).drop_duplicates("idempotency_key").itertuples():
            p = node.add(e(f"post {post.post_platform}:{post.account} {post.external_id} {post.post_url or ''}"))
            if post.score == post.score and post.score is not None:
                p.add(e(f"score {post.score:.3f}, engagement {post.er_mean:.2%} [{post.er_low:.2%}, {post.er_high:.2%}], "
                        f"P(best) {post.p_best:.2f}, {post.status}"))
            else:
                p.add("not scored yet")
    return root


def make_lineage() -> click.Command:
    @click.command("lineage")
    @click.argument("variant_id", required=False)
    @click.option("--item", "item_id", default=None, help="a market item id instead of a variant")
    def lineage_cmd(variant_id: str | None, item_id: str | None) -> int:
        """Market item -> blueprint -> variant -> post -> score for VARIANT_ID, or for a market item (--item)."""
        from rich.console import Console

        from actp_pipeline.iterate.lineage import lineage
        from actp_pipeline.store import connect_store
        from actp_pipeline.store.warehouse import Warehouse

        if (variant_id is None) == (item_id is None):
            raise click.UsageError("give a VARIANT_ID or --item ITEM_ID (one of them)")
        s = settings()
        frame = lineage(Warehouse(s.warehouse_dir), connect_store(s.store_url), variant_id=variant_id, item_id=item_id)
        title = f"lineage of {'variant ' + variant_id if variant_id else 'market item ' + str(item_id)}"
        console = Console(soft_wrap=True)
        if len(frame):
            console.print(_tree(frame, title))
        else:
            console.print(title + ": nothing found")
        for note in frame.attrs.get("notes", []):
            console.print(f"note: {note}", markup=False)
        return 0

    return lineage_cmd
