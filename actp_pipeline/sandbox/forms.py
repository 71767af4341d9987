"""HTML form bodies for the sandbox's web upload site: urlencoded and multipart/form-data, streamed.

A multipart body is read chunk by chunk from the transport and never held whole: a file part is
written to the file object the caller provides (with its size and SHA-256), text parts are kept in
memory up to a small limit. Part headers are parsed by the stdlib's email package with the HTTP policy.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import email.utils
import hashlib
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Mapping
from urllib.parse import parse_qs

from .errors import ApiError, bad_request

MAX_FIELD_BYTES = 64 * 1024  # one text field
MAX_PARTS = 64
MAX_PART_HEADER_BYTES = 16 * 1024


@dataclass(frozen=True)
class FilePart:
    name: str
    filename: str
    content_type: str
    size: int
    sha256: str


def _content_type(value: str | None) -> email.message.Message:
    msg = email.message.Message()
    msg["Content-Type"] = value or ""
    return msg


def media_type(value: str | None) -> str:
    """The lower-case media type of a Content-Type header ("" when absent)."""
    return (value or "").split(";", 1)[0].strip().lower()


def parse_urlencoded(raw: bytes) -> dict[str, str]:
    """An application/x-www-form-urlencoded body; the first value of each name wins."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("the form is not UTF-8", field="body", code="invalid_form") from None
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True, max_num_fields=MAX_PARTS).items()}


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a multipart/form-data Content-Type; ApiError 415/400 otherwise."""
    if media_type(content_type) != "multipart/form-data":
        raise ApiError(415, "unsupported_form", "the form must be sent as multipart/form-data", field="Content-Type")
    boundary = _content_type(content_type).get_param("boundary")
    if isinstance(boundary, tuple):  # RFC 2231 encoded parameter
        boundary = email.utils.collapse_rfc2231_value(boundary)
    if not isinstance(boundary, str) or not 1 <= len(boundary) <= 70:
        raise bad_request("multipart/form-data needs a boundary of 1 to 70 characters", field="Content-Type",
                          code="invalid_form")
    try:
        return boundary.encode("ascii")
    except UnicodeEncodeError:
        raise bad_request("the multipart boundary must be ASCII", field="Content-Type", code="invalid_form") from None


def _malformed(why: str) -> ApiError:
    return bad_request(f"malformed multipart body: {why}", field="body", code="invalid_form")


def _part_disposition(raw_headers: bytes) -> tuple[str, str | None, str]:
    """(field name, filename or None, content type) of one part from its header block."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.HTTP).parsebytes(raw_headers)
    if (headers.get_content_disposition() or "") != "form-data":
        raise _malformed("each part needs Content-Disposition: form-data")
    name = headers.get_param("name", header="content-disposition")
    if not isinstance(name, str) or not name:
        raise _malformed("a part has no field name")
    filename = headers.get_filename()
    return name, filename, headers.get_content_type()


class _Sink:
    """Where the bytes of the current part go: a caller's file (with size and digest) or memory."""

    def __init__(self, name: str, filename: str | None, ctype: str, fileobj: BinaryIO | None, max_file_bytes: int):
        self.name, self.filename, self.ctype = name, filename, ctype
        self.fileobj = fileobj
        self.max_file_bytes = max_file_bytes
        self.size = 0
        self.digest = hashlib.sha256()
        self.text = bytearray()

    def write(self, data: bytes | bytearray) -> None:
        if not data:
            return
        self.size += len(data)
        if self.filename is not None:
            if self.size > self.max_file_bytes:
                raise ApiError(413, "payload_too_large", f"{self.name} is larger than {self.max_file_bytes} bytes",
                               field=self.name)
            if self.fileobj is not None:
                self.fileobj.write(data)
                self.digest.update(data)
            return
        if self.size > MAX_FIELD_BYTES:
            raise bad_request(f"{self.name} is longer than {MAX_FIELD_BYTES} bytes", field=self.name,
                              code="invalid_field")
        self.text += data


def parse_multipart(
    content_type: str | None,
    chunks: Iterable[bytes],
    *,
    file_fields: Mapping[str, BinaryIO],
    max_file_bytes: int,
) -> tuple[dict[str, str], dict[str, FilePart]]:
    """Text fields and file parts of a multipart/form-data body read from `chunks`.

    File parts named in `file_fields` are written to those file objects; other file parts are read and
    dropped. A name given twice is an error. Raises ApiError (400/413/415) on anything malformed.
    """
    boundary = boundary_of(content_type)
    first = b"--" + boundary
    marker = b"\r\n" + first  # what ends a part's data
    fields: dict[str, str] = {}
    files: dict[str, FilePart] = {}
    seen: set[str] = set()
    buf = bytearray()
    it = iter(chunks)
    eof = False

    def more() -> bool:
        nonlocal eof
        if eof:
            return False
        chunk = next(it, None)
        if chunk is None:
            eof = True
            return False
        buf.extend(chunk)
        return True

    # preamble: up to the first boundary line (at the very start, or after a CRLF)
    while len(buf) < len(first) and more():
        pass
    if buf.startswith(first):
        del buf[: len(first)]
    else:
        while True:
            i = buf.find(marker)
            if i >= 0:
                del buf[: i + len(marker)]
                break
            if len(buf) > MAX_PART_HEADER_BYTES:
                raise _malformed("no boundary line found")
            if not more():
                raise _malformed("no boundary line found")

    parts = 0
    while True:
        # after a boundary: "--" ends the body, else optional whitespace and CRLF start a part
        while b"\r\n" not in buf and not (buf[:2] == b"--"):
            if len(buf) > 1024 or not more():
                raise _malformed("a boundary line does not end")
        if buf[:2] == b"--":
            while more():  # the epilogue is ignored but read, so the connection stays usable
                buf.clear()
            break
        line_end = buf.find(b"\r\n")
        if buf[:line_end].strip(b" \t"):
            raise _malformed("unexpected bytes after a boundary")
        del buf[: line_end + 2]
        parts += 1
        if parts > MAX_PARTS:
            raise _malformed(f"more than {MAX_PARTS} parts")

        # part headers, up to an empty line
        while True:
            if buf[:2] == b"\r\n":
                raw_headers, cut = b"", 2
                break
            j = buf.find(b"\r\n\r\n")
            if j >= 0:
                raw_headers, cut = bytes(buf[: j + 4]), j + 4
                break
            if len(buf) > MAX_PART_HEADER_BYTES:
                raise _malformed("part headers are too long")
            if not more():
                raise _malformed("the body ended inside part headers")
        del buf[:cut]
        name, filename, ctype = _part_disposition(raw_headers)
        if name in seen:
            raise bad_request(f"{name} is given more than once", field=name, code="invalid_field")
        seen.add(name)
        sink = _Sink(name, filename, ctype, file_fields.get(name) if filename is not None else None, max_file_bytes)

        # part data, up to CRLF + boundary; keep a tail that may hold the start of the marker
        while True:
            k = buf.find(marker)
            if k >= 0:
                sink.write(buf[:k])
                del buf[: k + len(marker)]
                break
            keep = len(marker) - 1
            if len(buf) > keep:
                sink.write(buf[: len(buf) - keep])
                del buf[: len(buf) - keep]
            if not more():
                raise _malformed("the body ended inside a part")
        if filename is None:
            try:
                fields[name] = sink.text.decode("utf-8")
            except UnicodeDecodeError:
                raise bad_request(f"{name} is not UTF-8 text", field=name, code="invalid_field") from None
        else:
            files[name] = FilePart(name=name, filename=filename, content_type=ctype, size=sink.size,
                                   sha256=sink.digest.hexdigest())
    return fields, files
