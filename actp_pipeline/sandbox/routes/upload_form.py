"""The web site's upload form (multipart/form-data), read with Starlette's multipart parser on
python-multipart, under the site's limits and with its errors (400/413/415 naming the field).

Why a subclass of Starlette's MultiPartParser rather than plain `request.form()`: python-multipart's
finalize() accepts a body cut off inside a part (the part is silently dropped), and the form needs
per-field errors (a name given twice, a text field too long or not UTF-8, a file over the upload limit).
File parts are spooled to temporary files by Starlette, never held whole in memory.
"""

from __future__ import annotations

import hashlib
from contextlib import aclosing
from pathlib import Path
from typing import Any, AsyncIterator, BinaryIO

from python_multipart.multipart import parse_options_header
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from ..errors import ApiError, bad_request
from ..transport import check_length, media_type, too_large

MAX_FIELD_BYTES = 64 * 1024  # one text field
MAX_PARTS = 64


def _malformed(why: str) -> ApiError:
    return bad_request(f"malformed multipart body: {why}", field="body", code="invalid_form")


class _FormParser(MultiPartParser):
    """Starlette's parser, with the form's limits per part and a record of whether the body ended."""

    def __init__(self, request: Request, stream: AsyncIterator[bytes], max_file_bytes: int):
        super().__init__(request.headers, stream, max_files=MAX_PARTS, max_fields=MAX_PARTS,  # type: ignore[arg-type]
                         max_part_size=MAX_FIELD_BYTES)
        self.max_file_bytes = max_file_bytes
        self.ended = False
        self._names: set[str] = set()
        self._part_bytes = 0

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._part_bytes = 0

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        name = self._current_part.field_name
        if name in self._names:
            raise bad_request(f"{name} is given more than once", field=name, code="invalid_field")
        self._names.add(name)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._part_bytes += end - start
        name = self._current_part.field_name
        if self._current_part.file is not None and self._part_bytes > self.max_file_bytes:
            raise ApiError(413, "payload_too_large", f"{name} is larger than {self.max_file_bytes} bytes", field=name)
        if self._current_part.file is None and self._part_bytes > MAX_FIELD_BYTES:
            raise bad_request(f"{name} is longer than {MAX_FIELD_BYTES} bytes", field=name, code="invalid_field")
        super().on_part_data(data, start, end)

    def on_part_end(self) -> None:
        if self._current_part.file is None:
            try:
                bytes(self._current_part.data).decode("utf-8")
            except UnicodeDecodeError:
                name = self._current_part.field_name
                raise bad_request(f"{name} is not UTF-8 text", field=name, code="invalid_field") from None
        super().on_part_end()

    def on_end(self) -> None:
        self.ended = True


def check_form_type(content_type: str | None) -> None:
    """415 unless multipart/form-data; 400 without a usable boundary (before anything is read)."""
    if media_type(content_type) != "multipart/form-data":
        raise ApiError(415, "unsupported_form", "the form must be sent as multipart/form-data", field="Content-Type")
    _, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary", b"")
    if not 1 <= len(boundary) <= 70 or not boundary.isascii():
        raise bad_request("multipart/form-data needs an ASCII boundary of 1 to 70 characters", field="Content-Type",
                          code="invalid_form")


async def _bounded(request: Request, limit: int) -> AsyncIterator[bytes]:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        yield chunk


async def read_upload_form(request: Request, limit: int, max_file_bytes: int) -> FormData:
    """The form's parts, the body at most `limit` bytes and each file at most `max_file_bytes`.
    The caller closes the returned form (its spooled files)."""
    check_form_type(request.headers.get("Content-Type"))
    check_length(request, limit)
    async with aclosing(_bounded(request, limit)) as stream:
        parser = _FormParser(request, stream, max_file_bytes)
        try:
            form = await parser.parse()
        except MultiPartException as exc:
            raise _malformed(exc.message) from None
    if not parser.ended:
        await form.close()
        raise _malformed("the body ended before its closing boundary")
    return form


def text_fields(form: FormData) -> dict[str, str]:
    return {name: value for name, value in form.multi_items() if isinstance(value, str)}


def file_field(form: FormData, name: str) -> UploadFile | None:
    value: Any = form.get(name)
    return value if isinstance(value, UploadFile) else None


def copy_with_digest(src: BinaryIO, dest: Path) -> tuple[int, str]:
    """Copy a spooled upload into the media directory: (size, sha256)."""
    digest, size = hashlib.sha256(), 0
    src.seek(0)
    with open(dest, "wb") as out:
        while chunk := src.read(1024 * 1024):
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
