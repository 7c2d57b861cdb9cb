"""Materials on disk, content-addressed: a file is kept once under ``<upload_dir>/ab/cd/<sha256>``.

Only the types an office prints and archives are taken (PDF, JPEG, PNG), recognised by their first
bytes rather than by the name the applicant's computer gave them; anything larger than the
configured limit is refused before a byte is written.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from engine.errors import Invalid, OneWindowError, Problem

MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
ALLOWED_TYPES = tuple(t for _m, t in MAGIC)


class FileTooLarge(OneWindowError):
    status = 413
    title = "Payload too large"


@dataclass(frozen=True)
class Upload:
    """A checked file, not yet stored: its bytes, checksum, size and sniffed type."""

    name: str
    content: bytes
    sha256: str
    content_type: str

    @property
    def size(self) -> int:
        return len(self.content)


def sniff(content: bytes) -> str | None:
    for magic, content_type in MAGIC:
        if content.startswith(magic):
            return content_type
    return None


def check_upload(name: str, content: bytes, *, max_bytes: int, field: str) -> Upload:
    """Check size and type of one file. Raises FileTooLarge (413) or Invalid naming ``field``."""
    if len(content) > max_bytes:
        raise FileTooLarge(f"{field}: {len(content)} bytes is more than the limit of {max_bytes} bytes")
    if not content:
        raise Invalid("empty file", [Problem("文件为空 / the file is empty", field=field)])
    content_type = sniff(content)
    if content_type is None:
        raise Invalid("file type not accepted", [Problem(
            "只接受 PDF、JPEG、PNG 文件 / only PDF, JPEG and PNG files are accepted", field=field)])
    safe_name = os.path.basename(name.replace("\\", "/")).strip()[:200] or "file"
    return Upload(safe_name, content, hashlib.sha256(content).hexdigest(), content_type)


def path_for(upload_dir: str | Path, sha256: str) -> Path:
    return Path(upload_dir) / sha256[:2] / sha256[2:4] / sha256


def put(upload_dir: str | Path, upload: Upload) -> Path:
    """Write the file once (atomically: temp file, then rename); an existing copy is kept."""
    target = path_for(upload_dir, upload.sha256)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(upload.content)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read(upload_dir: str | Path, sha256: str) -> bytes:
    """The stored bytes, verified against their checksum. Raises OneWindowError when damaged."""
    content = path_for(upload_dir, sha256).read_bytes()
    if hashlib.sha256(content).hexdigest() != sha256:
        raise OneWindowError(f"stored file {sha256} is damaged (checksum mismatch)")
    return content
