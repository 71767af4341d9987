"""`actp queue`: the render and publish queues: status, and cancel or retry one item."""

from __future__ import annotations

import click

from actp_pipeline.commands.context import settings

QUEUES = ("renders", "uploads")


def _queues():
    from actp_pipeline.store import connect_store
    from actp_pipeline.store.queues import publish_queue, render_queue

    engine = connect_store(settings().store_url)
    return engine, {"renders": render_queue(engine), "uploads": publish_queue(engine)}


def _status() -> int:
    """Counts per status, and the items that failed (dead or waiting to retry) with their last error."""
    import sqlalchemy as sa

    engine, queues = _queues()
    for name, q in queues.items():
        click.echo(f"{name}: {q.counts() or 'empty'}")
        t = q.table
        with engine.connect() as conn:
            stuck = conn.execute(sa.select(t.c.id, t.c.variant_id, t.c.status, t.c.attempts, t.c.last_error)
                                 .where(t.c.status.in_((q.s.dead, q.s.retry)), t.c.last_error.is_not(None))
                                 .order_by(t.c.id).limit(20)).all()
        for r in stuck:
            click.echo(f"  #{r.id} {r.variant_id} {r.status} after {r.attempts} attempts: {(r.last_error or '')[:160]}")
    return 0


def _change(action: str, queue: str, item: int) -> int:
    import sqlalchemy as sa

    engine, queues = _queues()
    q = queues[queue]
    ok = q.cancel(item) if action == "cancel" else q.retry(item)
    if ok:
        click.echo(f"{queue} #{item}: {action} done")
        return 0
    with engine.connect() as conn:
        status = conn.execute(sa.select(q.table.c.status).where(q.table.c.id == item)).scalar()
    why = ("no such item" if status is None else
           f"it is {status}: the platform may already have it; a worker looks it up first, then it can be changed"
           if status == q.s.ambiguous else f"it is {status}")
    click.echo(f"{queue} #{item}: {action} refused ({why})")
    return 1


def make() -> click.Group:
    @click.group("queue")
    def queue() -> None:
        """The render and publish queues: status; cancel or retry one item."""

    @queue.command("status")
    def status() -> int:
        """Counts per status, and the dead or retrying items with their last error."""
        return _status()

    @queue.command("cancel")
    @click.argument("queue_name", metavar="QUEUE", type=click.Choice(QUEUES))
    @click.argument("item", type=click.IntRange(1))
    def cancel(queue_name: str, item: int) -> int:
        """Cancel one item (QUEUE: renders or uploads; ITEM: its id in `actp queue status`) not done yet."""
        return _change("cancel", queue_name, item)

    @queue.command("retry")
    @click.argument("queue_name", metavar="QUEUE", type=click.Choice(QUEUES))
    @click.argument("item", type=click.IntRange(1))
    def retry(queue_name: str, item: int) -> int:
        """Give one dead or failed item (QUEUE: renders or uploads) one fresh attempt."""
        return _change("retry", queue_name, item)

    return queue
