"""Accounts and tokens: per-account OAuth tokens in the operational store, encrypted at rest with a key
from ACTP_TOKEN_KEY, refreshed before they expire, never logged or shown (issue 11, item 6).

A caller that needs a platform token (a publisher, a metrics reader, an ads client) asks for it each time:

    from actp_pipeline.accounts import get_token
    token = get_token(engine, "tiktok", "main")          # refreshed first when it expires within the margin

and gets the access token as a str (NotConnected, NeedsReconnect or TokenUnavailable otherwise). Plain
Python: no Dagster import.
"""

from .crypto import NoTokenKey, TokenCipher, TokenKeyMismatch, keygen
from .tokens import (
    AccountStatus,
    NeedsReconnect,
    NotConnected,
    TokenUnavailable,
    disconnect,
    get_token,
    list_accounts,
    save_tokens,
)

__all__ = ["AccountStatus", "NeedsReconnect", "NoTokenKey", "NotConnected", "TokenCipher", "TokenKeyMismatch",
           "TokenUnavailable",
           "disconnect", "get_token", "keygen", "list_accounts", "save_tokens"]
