"""`actp studio`: serve the studio (the web page for growth teams and reviewers); `actp studio user ...` manages
its users. A password is read from a prompt or stdin, never from the command line (it would sit in the shell's
history and the process list)."""

from __future__ import annotations

import sys

import click

from actp_pipeline.commands.context import settings

DEFAULT_PORT = 8790


def _engine():
    from actp_pipeline.store import connect_store

    return connect_store(settings().store_url)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("password", hide_input=True, confirmation_prompt=True)


def _serve_command() -> click.Command:
    @click.command("serve")
    @click.option("--host", default="127.0.0.1", help="interface to listen on (put a TLS proxy in front of it for "
                  "anything but loopback)")
    @click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, help="port; 0 = a free one")
    @click.option("--insecure-cookies", is_flag=True,
                  help="session cookies without Secure: only for plain HTTP on loopback (implied on 127.0.0.1)")
    def serve(host: str, port: int, insecure_cookies: bool) -> int:
        """Serve the studio. The first admin is made from ACTP_STUDIO_ADMIN_USER / ACTP_STUDIO_ADMIN_PASSWORD when
        the store has no user; sessions are signed with ACTP_STUDIO_SECRET (unset: a key per process)."""
        import uvicorn

        from actp_pipeline.studio.app import create_app

        s = settings()
        loopback = host in ("127.0.0.1", "localhost", "::1")
        app = create_app(s.store_url, s.warehouse_dir, s.media_dir, s.data_dir,
                         secure_cookies=not (insecure_cookies or loopback))
        print(f"studio on http://{host}:{port} (store {s.store_url.split('@')[-1]})", file=sys.stderr, flush=True)
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return 0
    return serve


def _user_group() -> click.Group:
    from actp_pipeline.studio.users import ROLES

    @click.group("user")
    def user() -> None:
        """The studio's users and their roles per account."""

    @user.command("add")
    @click.argument("username")
    @click.option("--role", type=click.Choice(ROLES), default="viewer", help="viewer < approver < admin")
    @click.option("--account", "accounts", multiple=True, required=True,
                  help="an account key the role holds on (repeat; '*' = every account)")
    @click.option("--password-stdin", is_flag=True, help="read the password from the first line of stdin")
    def add(username: str, role: str, accounts: tuple[str, ...], password_stdin: bool) -> int:
        """Create USERNAME with ROLE on each --account."""
        from actp_pipeline.studio.users import UserError, add_user, grant

        engine = _engine()
        try:
            add_user(engine, username, _password(password_stdin), by="cli")
            for account in accounts:
                grant(engine, username, account, role, by="cli")
        except UserError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"user {username}: {role} of {', '.join(accounts)}")
        return 0

    @user.command("grant")
    @click.argument("username")
    @click.argument("account")
    @click.argument("role", type=click.Choice(ROLES))
    def grant_(username: str, account: str, role: str) -> int:
        """Give USERNAME ROLE on ACCOUNT ('*' = every account), replacing its role there."""
        from actp_pipeline.studio.users import UserError, grant

        try:
            grant(_engine(), username, account, role, by="cli")
        except UserError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"user {username}: {role} of {account}")
        return 0

    @user.command("list")
    def list_() -> int:
        """Every user with its roles."""
        import sqlalchemy as sa

        from actp_pipeline.store import schema

        with _engine().connect() as conn:
            rows = conn.execute(sa.select(schema.studio_users.c.username, schema.studio_users.c.active,
                                          schema.studio_roles.c.account, schema.studio_roles.c.role).outerjoin(
                schema.studio_roles, schema.studio_roles.c.username == schema.studio_users.c.username).order_by(
                schema.studio_users.c.username, schema.studio_roles.c.account)).all()
        for r in rows:
            click.echo(f"{r.username}\t{'active' if r.active else 'disabled'}\t{r.account or '-'}\t{r.role or '-'}")
        return 0
    return user


def make() -> click.Group:
    @click.group("studio", invoke_without_command=True)
    @click.pass_context
    def studio(ctx: click.Context) -> None:
        """The studio: `actp studio serve` serves it; `actp studio user add|grant|list` manages who logs in."""
        if ctx.invoked_subcommand is None:
            click.echo(ctx.get_help())

    studio.add_command(_serve_command())
    studio.add_command(_user_group())
    return studio
