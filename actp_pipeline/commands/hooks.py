"""`actp hooks`: the attribution service (tracked links, page views, conversions, signed webhooks)."""

from __future__ import annotations

import sys

import click

from actp_pipeline.commands.context import settings


def make() -> click.Command:
    from actp_pipeline.hooks.server import DEFAULT_PORT

    @click.command("hooks")
    @click.option("--host", default="127.0.0.1", help="interface to listen on; put a TLS proxy in front for the "
                  "public address")
    @click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, help="port; 0 = a free one")
    @click.option("--verbose", is_flag=True, help="log every request (uvicorn's access log)")
    def hooks(host: str, port: int, verbose: bool) -> int:
        """Serve tracked links (/r/SLUG), the landing-page snippet, conversions and webhooks from Stripe, Meta
        and TikTok. Secrets come from ACTP_STRIPE_WEBHOOK_SECRETS, ACTP_META_APP_SECRET, ACTP_META_VERIFY_TOKEN,
        ACTP_TIKTOK_CLIENT_SECRET and ACTP_HOOKS_TOKEN; a source whose secret is unset is off."""
        from actp_pipeline.hooks.server import serve_forever
        from actp_pipeline.hooks.service import HooksConfig

        config = HooksConfig.from_env()
        s = settings()
        print(f"hooks service on http://{host}:{port} ({config!r}); store {s.store_url.split('@')[-1]}",
              file=sys.stderr, flush=True)
        serve_forever(s.store_url, host, port, config, verbose)
        return 0

    return hooks
