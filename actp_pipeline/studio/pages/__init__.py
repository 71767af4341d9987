"""The studio's pages, one module each; every module exposes ROUTES (Starlette routes built with
studio.web.page / studio.web.action, so the login guard, CSRF check and account scoping are the same on all)."""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    from actp_pipeline.studio.pages import ads, creatives, funnel, health, learning, review

    return [*creatives.ROUTES, *review.ROUTES, *ads.ROUTES, *learning.ROUTES, *funnel.ROUTES, *health.ROUTES]
