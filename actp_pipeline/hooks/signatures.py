"""Webhook signature checks for the hooks service: Stripe, Meta, TikTok and Standard Webhooks.

Why hand-written: each check is a few lines of HMAC-SHA256 over the raw body. The SDK verifiers
are tied to their own event objects (stripe's ``Webhook.construct_event`` parses and builds a
``stripe.Event``; its ``verify_header`` reads the wall clock and allows any future timestamp), and
Meta and TikTok ship no Python verifier for their webhooks at all. One module with one error type,
an injected clock and one header grammar is easier to audit than four libraries. We do not trust
it blindly: tests/hooks/test_signatures.py cross-checks it against ``stripe`` and
``standardwebhooks`` (sign with theirs, verify with ours, and the other way round).

Schemes, as each provider documents them (cited by title; read the source for detail):

- Stripe, "Check the webhook signatures" / "Verify webhook signatures manually" (Stripe Docs,
  Webhooks): ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...][,v0=...]``; the signed payload is
  ``"<t>." + raw body``; HMAC-SHA256 with the endpoint secret, lowercase hex; several ``v1`` values
  while a secret is being rolled; ignore other schemes; 300 s is the SDKs' default tolerance.
- Meta, Graph API Webhooks "Getting Started": verification requests are a GET with ``hub.mode``
  (always ``subscribe``), ``hub.challenge`` (an int to echo back) and ``hub.verify_token`` (the
  string set in the App Dashboard); event notifications carry ``X-Hub-Signature-256:
  sha256=<hex>``, an HMAC-SHA256 of the raw body keyed with the app secret, in lowercase hex.
- TikTok for Developers, Webhooks "Check the signature": ``TikTok-Signature: t=<unix>,s=<hex>``;
  signed payload ``"<t>." + raw body``; HMAC-SHA256 keyed with the app's client_secret; compare,
  then judge the age of ``t``.
- Standard Webhooks specification 1.0.0, "Verifying webhook authenticity": headers
  ``webhook-id``, ``webhook-timestamp`` (integer unix seconds) and ``webhook-signature`` (a
  space-delimited list of ``v1,<base64>``); signed content ``"<id>.<timestamp>." + raw body``;
  secret serialized as ``whsec_<base64>``; ``v1a`` (asymmetric) entries are not ours and are skipped.

House rules here: the body is the raw bytes as received (never re-encoded JSON); every candidate
signature is compared with ``hmac.compare_digest`` and the loop never exits early; the signature is
checked before the timestamp, so "timestamp_outside_tolerance" only ever describes an authentic
message (a replay or clock skew, not a forgery); headers are parsed strictly and size-limited so
garbage is refused cheaply; no error message contains a secret, an expected signature or the raw
header. Timestamps too far in the *future* are refused too (Stripe's SDK only refuses old ones):
a signature with a far-future ``t`` would otherwise stay replayable until that moment arrives, and
real senders are never more than clock skew ahead, which the tolerance already covers. Standard
Webhooks refuses both directions as well.

Pure: no I/O, no clock (callers pass ``now``), no Dagster, no Starlette.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence

DEFAULT_TOLERANCE_S = 300
MAX_HEADER_CHARS = 8 * 1024  # real headers are < 1 KiB; anything larger is refused unparsed

STRIPE_HEADER = "Stripe-Signature"
META_HEADER = "X-Hub-Signature-256"
TIKTOK_HEADER = "TikTok-Signature"

_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")  # lowercase only: what every provider here sends
_UNIX_SECONDS = re.compile(r"0|[1-9][0-9]{0,11}")  # ASCII digits, no sign, no leading zeros
_KEY = re.compile(r"[A-Za-z0-9_]{1,32}")
_B64_SHA256 = re.compile(r"[A-Za-z0-9+/]{43}=")  # standard base64 of 32 bytes, padded
_MSG_ID = re.compile(r"[!-\-/-~]{1,256}")  # printable ASCII without "." (spec: ids must not hold ".")
_CHALLENGE = re.compile(r"[A-Za-z0-9_\-]{1,256}")  # Meta sends an int; safe to echo in any body


class SignatureError(ValueError):
    """A webhook failed verification; answer 400/401 and do not process it.

    ``reason`` is a short machine word for logs and metrics: missing_header, header_too_large,
    malformed_header, no_signature, no_matching_signature, timestamp_outside_tolerance,
    missing_parameter, malformed_parameter, wrong_mode, wrong_verify_token.
    The message never carries a secret, an expected signature or the raw header value.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# ---------------------------------------------------------------- shared pieces


def _check_payload(payload: object) -> bytes:
    """The raw body; a str means someone decoded it already, which breaks signatures silently."""
    if not isinstance(payload, (bytes, bytearray)):
        raise TypeError("payload must be the raw request body as bytes")
    return bytes(payload)


def _check_secret(secret: object, what: str = "secret") -> bytes:
    """A configured secret as key bytes; missing configuration is a bug, not a bad request."""
    if not isinstance(secret, str) or not secret:
        raise ValueError(f"{what} must be a non-empty string")
    return secret.encode("utf-8")


def _secret_keys(secrets: Sequence[str]) -> list[bytes]:
    """Several secrets are allowed so a rolled secret and its successor both verify."""
    if isinstance(secrets, (str, bytes)):
        raise TypeError("secrets must be a sequence of strings, not a single string")
    keys = [_check_secret(s) for s in secrets]
    if not keys:
        raise ValueError("at least one secret is required")
    return keys


def _require_header(value: object, name: str) -> str:
    """Present, a str, and small enough to be worth parsing."""
    if value is None or value == "":
        raise SignatureError("missing_header", f"{name} header is missing")
    if not isinstance(value, str):
        raise SignatureError("malformed_header", f"{name} header is not text")
    if len(value) > MAX_HEADER_CHARS:
        raise SignatureError("header_too_large", f"{name} header is longer than {MAX_HEADER_CHARS} characters")
    return value


def _hmac_hex(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).hexdigest().encode("ascii")


def _any_match(expected: Sequence[bytes], provided: Sequence[bytes]) -> bool:
    """Compare every pair in constant time; no early exit, so timing says nothing about which."""
    found = False
    for want in expected:
        for got in provided:
            found |= hmac.compare_digest(want, got)
    return found


def _check_tolerance(t: int, now: float, tolerance_s: int, name: str) -> None:
    """Refuse timestamps more than tolerance_s away from now, in either direction."""
    if tolerance_s < 0:
        raise ValueError("tolerance_s must be >= 0")
    skew = now - t
    if abs(skew) > tolerance_s:
        when = "old" if skew > 0 else "in the future"
        raise SignatureError(
            "timestamp_outside_tolerance",
            f"{name} timestamp {t} is {abs(skew):.0f} s {when}; tolerance is {tolerance_s} s",
        )


def _parse_unix(value: str, name: str) -> int:
    if not _UNIX_SECONDS.fullmatch(value):
        raise SignatureError("malformed_header", f"{name} timestamp is not whole unix seconds")
    return int(value)


def _parse_t_header(header: str, name: str, sig_key: str, *, many: bool) -> tuple[int, list[bytes]]:
    """Parse ``t=<unix>,<sig_key>=<hex>,...`` strictly; other keys (Stripe's v0) are skipped.

    Every element must be ``key=value`` with a word key and a non-empty value; exactly one ``t``;
    each signature 64 lowercase hex digits; ``many`` says whether several are allowed.
    """
    stamps: list[str] = []
    sigs: list[bytes] = []
    for part in header.split(","):
        key, sep, value = part.partition("=")
        if not sep or not value or not _KEY.fullmatch(key):
            raise SignatureError("malformed_header", f"{name} has an element that is not key=value")
        if key == "t":
            stamps.append(value)
        elif key == sig_key:
            if not _HEX_SHA256.fullmatch(value):
                raise SignatureError("malformed_header", f"{name} {sig_key}= is not 64 lowercase hex digits")
            sigs.append(value.encode("ascii"))
    if len(stamps) != 1:
        raise SignatureError("malformed_header", f"{name} must carry exactly one t= element")
    t = _parse_unix(stamps[0], name)
    if not sigs:
        raise SignatureError("no_signature", f"{name} carries no {sig_key}= signature")
    if len(sigs) > 1 and not many:
        raise SignatureError("malformed_header", f"{name} must carry exactly one {sig_key}= signature")
    return t, sigs


def _no_match(name: str) -> SignatureError:
    return SignatureError("no_matching_signature", f"no {name} signature matches the body and configured secret")


# ---------------------------------------------------------------- Stripe


def _verify_timed(payload: bytes, header: str | None, keys: Sequence[bytes], name: str, sig_key: str, *,
                  many: bool, now: float, tolerance_s: int) -> int:
    """The `t=<unix>,<sig_key>=<hex>` scheme Stripe and TikTok share: HMAC-SHA256 of "<t>." + body under any
    key matches any signature, then t is within the tolerance (checked after, so a stale t is authentic)."""
    body = _check_payload(payload)
    t, sigs = _parse_t_header(_require_header(header, name), name, sig_key, many=many)
    signed = b"%d." % t + body
    if not _any_match([_hmac_hex(k, signed) for k in keys], sigs):
        raise _no_match(name)
    _check_tolerance(t, now, tolerance_s, name)
    return t


def _timed_digest(payload: bytes, secret: str, t: int) -> str:
    return _hmac_hex(_check_secret(secret), b"%d." % t + _check_payload(payload)).decode("ascii")


def verify_stripe(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    now: float,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> int:
    """Verify a ``Stripe-Signature`` header; return its timestamp.

    Accepts when any v1 value matches the HMAC under any of ``secrets`` (rolling a secret means
    both the old and new one verify for a while, and Stripe then sends one v1 per secret).
    """
    return _verify_timed(payload, header, _secret_keys(secrets), STRIPE_HEADER, "v1", many=True, now=now,
                         tolerance_s=tolerance_s)


def sign_stripe(payload: bytes, secret: str, t: int) -> str:
    """The ``Stripe-Signature`` value Stripe would send; for tests, the sandbox and benchmarks."""
    return f"t={t},v1={_timed_digest(payload, secret, t)}"


# ---------------------------------------------------------------- Meta


def verify_meta(payload: bytes, header: str | None, app_secret: str) -> None:
    """Verify ``X-Hub-Signature-256: sha256=<hex>`` (HMAC-SHA256 of the raw body, app secret).

    Uppercase hex is refused as malformed: Meta documents lowercase, so one canonical form keeps
    the check byte-for-byte like stripe's and a second spelling of a signature never appears.
    Meta signs no timestamp, so replays are for the event-id ledger to catch, not this function.
    """
    body = _check_payload(payload)
    key = _check_secret(app_secret, "app_secret")
    value = _require_header(header, META_HEADER)
    algo, sep, sig = value.partition("=")
    if algo != "sha256" or not sep:
        raise SignatureError("malformed_header", f"{META_HEADER} must look like sha256=<hex>")
    if not _HEX_SHA256.fullmatch(sig):
        raise SignatureError("malformed_header", f"{META_HEADER} signature is not 64 lowercase hex digits")
    if not _any_match([_hmac_hex(key, body)], [sig.encode("ascii")]):
        raise _no_match(META_HEADER)


def sign_meta(payload: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` value Meta would send."""
    digest = _hmac_hex(_check_secret(app_secret, "app_secret"), _check_payload(payload))
    return "sha256=" + digest.decode("ascii")


def _text_bytes(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def meta_challenge(params: Mapping[str, str], verify_token: str) -> str:
    """Answer Meta's GET verification: return ``hub.challenge`` to echo as the response body.

    Only for ``hub.mode == "subscribe"`` and the right token. Tokens are compared as SHA-256
    digests in constant time, so neither content nor length leaks. The challenge is limited to a
    short word (Meta sends an int) because we echo it back verbatim.
    """
    expected = _check_secret(verify_token, "verify_token")
    mode, token, challenge = (params.get(k) for k in ("hub.mode", "hub.verify_token", "hub.challenge"))
    if not isinstance(mode, str) or not isinstance(token, str) or not isinstance(challenge, str):
        raise SignatureError("missing_parameter", "hub.mode, hub.verify_token and hub.challenge are all required")
    if mode != "subscribe":
        raise SignatureError("wrong_mode", "hub.mode is not 'subscribe'")
    given = hashlib.sha256(_text_bytes(token)).digest()
    if not hmac.compare_digest(given, hashlib.sha256(expected).digest()):
        raise SignatureError("wrong_verify_token", "hub.verify_token does not match the configured token")
    if not _CHALLENGE.fullmatch(challenge):
        raise SignatureError("malformed_parameter", "hub.challenge is not a short word of letters and digits")
    return challenge


# ---------------------------------------------------------------- TikTok


def verify_tiktok(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    now: float,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> int:
    """Verify ``TikTok-Signature: t=<unix>,s=<hex>`` with the app's client_secret; return t.

    TikTok documents one ``s`` per header, so a second one is malformed rather than a rotation.
    """
    return _verify_timed(payload, header, [_check_secret(secret)], TIKTOK_HEADER, "s", many=False, now=now,
                         tolerance_s=tolerance_s)


def sign_tiktok(payload: bytes, secret: str, t: int) -> str:
    """The ``TikTok-Signature`` value TikTok would send."""
    return f"t={t},s={_timed_digest(payload, secret, t)}"


# ---------------------------------------------------------------- Standard Webhooks


def _standard_key(secret: str) -> bytes:
    """``whsec_<base64>`` (prefix optional, as the reference libraries allow) to key bytes."""
    if not isinstance(secret, str) or not secret:
        raise ValueError("secret must be a non-empty whsec_<base64> string")
    raw = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("secret is not whsec_ followed by base64") from None
    if not key:
        raise ValueError("secret decodes to an empty key")
    return key


def _standard_signature(key: bytes, msg_id: str, t: int, body: bytes) -> bytes:
    digest = hmac.new(key, f"{msg_id}.{t}.".encode("ascii") + body, hashlib.sha256).digest()
    return b"v1," + base64.b64encode(digest)


def _parse_standard_signatures(value: str) -> list[bytes]:
    """Space-delimited ``version,base64`` entries; keep v1, skip others (v1a is asymmetric)."""
    found: list[bytes] = []
    for entry in value.split(" "):
        version, sep, sig = entry.partition(",")
        if not sep or not sig or not _KEY.fullmatch(version):
            raise SignatureError("malformed_header", "webhook-signature has an entry that is not version,signature")
        if version == "v1":
            if not _B64_SHA256.fullmatch(sig):
                raise SignatureError("malformed_header", "webhook-signature v1 entry is not base64 of 32 bytes")
            found.append(b"v1," + sig.encode("ascii"))
    if not found:
        raise SignatureError("no_signature", "webhook-signature carries no v1 signature")
    return found


def verify_standard(
    payload: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    now: float,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> str:
    """Verify a Standard Webhooks delivery; return its ``webhook-id`` (the idempotency key).

    Header names are matched case-insensitively. Ids holding "." are refused: the spec warns that
    a dot in the id would let bytes slide between id, timestamp and body in the signed content.
    """
    body = _check_payload(payload)
    key = _standard_key(secret)
    lowered = {str(k).lower(): v for k, v in headers.items()}
    msg_id = _require_header(lowered.get("webhook-id"), "webhook-id")
    stamp = _require_header(lowered.get("webhook-timestamp"), "webhook-timestamp")
    sigs = _parse_standard_signatures(_require_header(lowered.get("webhook-signature"), "webhook-signature"))
    if not _MSG_ID.fullmatch(msg_id):
        raise SignatureError("malformed_header", "webhook-id must be 1-256 printable ASCII characters without '.'")
    t = _parse_unix(stamp, "webhook-timestamp")
    if not _any_match([_standard_signature(key, msg_id, t, body)], sigs):
        raise _no_match("webhook-signature")
    _check_tolerance(t, now, tolerance_s, "webhook-timestamp")
    return msg_id


def sign_standard(payload: bytes, msg_id: str, secret: str, t: int) -> str:
    """The ``webhook-signature`` value a Standard Webhooks sender would send (one v1 entry)."""
    sig = _standard_signature(_standard_key(secret), msg_id, t, _check_payload(payload))
    return sig.decode("ascii")
