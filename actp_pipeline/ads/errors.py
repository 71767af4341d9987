"""The error an ads adapter raises when the platform refuses or fails a call (`meta.AdsError`)."""

from __future__ import annotations


class AdsError(Exception):
    """The ads API refused or failed a call (Graph error fields when it sent some)."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None,
                 subcode: int | None = None, retryable: bool = False, fbtrace_id: str | None = None,
                 where: str | None = None):
        head = f"{where} -> " if where else ""
        tail = f"HTTP {status} " if status else ""
        super().__init__(f"{head}{tail}{f'(#{code}) ' if code is not None else ''}{message}")
        self.message = message
        self.status = status
        self.code = code
        self.subcode = subcode
        self.retryable = retryable
        self.fbtrace_id = fbtrace_id
