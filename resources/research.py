"""Research sources per account (actp_pipeline.research.sources.config), as a Dagster resource."""

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from pydantic import Field

from actp_pipeline.research.sources.base import Source
from actp_pipeline.research.sources.config import ENV, SourceSpec, load, sources_by_account


class ResearchSourcesResource(dg.ConfigurableResource):
    config_path: str = Field(default_factory=lambda: os.environ.get(ENV, ""), description=(
        f"A JSON file of research sources per account ({ENV}); empty: the platform host's trending and "
        "ad-library feeds. Secrets are named there as environment variables, never written."))

    def specs(self) -> list[SourceSpec]:
        return load(self.config_path or None)

    def sources(self, platform_feed: Any, env: Mapping[str, str] | None = None) -> dict[str, list[Source]]:
        """account -> its configured Sources (the sandbox feeds read through `platform_feed`)."""
        return sources_by_account(self.specs(), env=env, platform_feed=platform_feed)
