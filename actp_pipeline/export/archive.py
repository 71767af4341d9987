"""A reproducible ZIP: the same entries give the same bytes, written atomically.

Entries are sorted by name and carry a fixed timestamp (1980-01-01, the earliest a ZIP can hold) and fixed
permissions, so a kit exported twice from the same store is byte-identical (its checksum can be compared, a
re-export does not look like a change). Videos are stored as they are (already compressed); text is
deflated. The file appears under its name only when complete (temp file + rename).
"""

from __future__ import annotations

import os
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644 << 16
CHUNK = 1 << 20


@dataclass(frozen=True)
class Entry:
    """One file of the archive: its bytes, or the path to copy them from."""

    name: str
    data: bytes | None = None
    source: Path | None = None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.source is None):
            raise ValueError(f"archive entry {self.name!r}: give exactly one of data or source")
        if self.name.startswith("/") or ".." in self.name.split("/"):
            raise ValueError(f"archive entry {self.name!r}: names are relative and stay inside the archive")


def _info(name: str, stored: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.external_attr = FILE_MODE
    info.create_system = 3  # unix, whatever the exporting machine
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    return info


def write_zip(path: Path, entries: list[Entry]) -> Path:
    """Write `entries` to `path` (sorted by name; a repeated name is an error) via a temp file and a rename."""
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"archive {path.name}: repeated entry names {repeated[:5]}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compresslevel=9) as zf:
            for entry in sorted(entries, key=lambda e: e.name):
                info = _info(entry.name, stored=entry.source is not None)
                if entry.data is not None:
                    zf.writestr(info, entry.data)
                    continue
                info.file_size = entry.source.stat().st_size  # lets zipfile choose ZIP64 itself for a huge video
                with open(entry.source, "rb") as src, zf.open(info, "w") as dst:
                    while chunk := src.read(CHUNK):
                        dst.write(chunk)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
