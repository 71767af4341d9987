"""The local code location: renders and uploads, pulled from the operational store (no inbound calls)."""
