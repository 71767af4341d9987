"""The optional language model that writes variant copy (key "llm"): any OpenAI-compatible endpoint.

ACTP_LLM_BASE_URL and ACTP_LLM_MODEL say where and which; ACTP_LLM_API_KEY is the key (an EnvVar, so it
stays out of the UI). With no base URL or no model, `copywriter()` is None and the templates write the copy.
"""

import os
from typing import Optional

import dagster as dg
from pydantic import Field

from actp_pipeline.generate.llm_copy import ModelCopywriter

_DEFAULTS = ModelCopywriter.__dataclass_fields__


class LLMResource(dg.ConfigurableResource):
    base_url: Optional[str] = Field(None, description="The endpoint's base URL, e.g. https://api.openai.com/v1 "
                                    "(ACTP_LLM_BASE_URL); empty = template copy only.")
    api_key: Optional[str] = Field(None, description="The endpoint's API key (ACTP_LLM_API_KEY).")
    model: Optional[str] = Field(None, description="The model asked for copy (ACTP_LLM_MODEL).")
    timeout_s: float = Field(_DEFAULTS["timeout_s"].default, description="Seconds per request before the "
                             "variant falls back to template copy.")
    max_concurrency: int = Field(_DEFAULTS["max_concurrency"].default, description="Requests in flight at once.")

    @classmethod
    def from_env(cls) -> "LLMResource":
        """The resource as the environment configures it (the key as an EnvVar when set)."""
        key = dg.EnvVar("ACTP_LLM_API_KEY") if os.environ.get("ACTP_LLM_API_KEY") else None
        return cls(base_url=os.environ.get("ACTP_LLM_BASE_URL") or None, api_key=key,
                   model=os.environ.get("ACTP_LLM_MODEL") or None)

    def copywriter(self) -> ModelCopywriter | None:
        """The model's copywriter, or None when no endpoint is configured (the template path)."""
        if not self.base_url or not self.model:
            return None
        return ModelCopywriter(base_url=self.base_url, model=self.model, api_key=self.api_key,
                               timeout_s=self.timeout_s, max_concurrency=self.max_concurrency)

    def describe(self) -> str:
        return f"{self.model} at {self.base_url}" if self.base_url and self.model else "templates (no model configured)"
