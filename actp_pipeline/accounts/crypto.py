"""Tokens encrypted at rest: Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) with the keys in
ACTP_TOKEN_KEY. Several comma-separated keys allow rotation: the first encrypts, any decrypts
(MultiFernet), and `rotate` re-encrypts a ciphertext under the first key."""

from __future__ import annotations

import os
from collections.abc import Mapping

KEY_ENV = "ACTP_TOKEN_KEY"
HOW_TO = ("set ACTP_TOKEN_KEY to a Fernet key: make one with `actp accounts keygen` and keep it outside the "
          "store (several comma-separated keys rotate: the first encrypts, any decrypts)")


class NoTokenKey(RuntimeError):
    """ACTP_TOKEN_KEY is missing or not a Fernet key (the message says how to make one, never the value)."""


class TokenKeyMismatch(RuntimeError):
    """No key of ACTP_TOKEN_KEY decrypts a stored token (the key was changed without keeping the old one)."""


def keygen() -> str:
    """A new Fernet key (urlsafe base64 of 32 random bytes)."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


class TokenCipher:
    """Encrypt with the first key, decrypt with any."""

    def __init__(self, keys: list[str] | tuple[str, ...]):
        from cryptography.fernet import Fernet, MultiFernet

        keys = [k.strip() for k in keys if k and k.strip()]
        if not keys:
            raise NoTokenKey(f"no token key: {HOW_TO}")
        fernets = []
        for i, key in enumerate(keys):
            try:
                fernets.append(Fernet(key.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                raise NoTokenKey(f"key #{i + 1} of ACTP_TOKEN_KEY is not a Fernet key: {HOW_TO}") from None
        self._fernet = MultiFernet(fernets)

    def __repr__(self) -> str:
        return "TokenCipher(<keys hidden>)"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TokenCipher:
        raw = (os.environ if env is None else env).get(KEY_ENV) or ""
        if not raw.strip():
            raise NoTokenKey(f"ACTP_TOKEN_KEY is not set: {HOW_TO}")
        return cls(raw.split(","))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise TokenKeyMismatch("no key of ACTP_TOKEN_KEY decrypts the stored token: keep the old key after "
                                   "the new one until every token is rotated, or reconnect the account") from None

    def rotate(self, ciphertext: str) -> str:
        """The ciphertext re-encrypted under the first key."""
        return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
