"""Materials on disk, content-addressed: a file is kept once under ``<upload_dir>/ab/cd/<sha256>``.

Only the types an office prints and archives are taken (PDF, JPEG, PNG), recognised by their first
bytes rather than by the name the applicant's computer gave them; anything larger than the
configured limit is refused before a byte is written.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
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
    """The stored bytes, verified against their checksum. Raises OneWindowError when damaged.

    A file the sweep set aside while a transaction that points at it was still running is put back.
    """
    path = path_for(upload_dir, sha256)
    if not path.exists() and (Path(upload_dir) / SWEPT / sha256).exists():
        _restore(Path(upload_dir), sha256)
    content = path.read_bytes()
    if hashlib.sha256(content).hexdigest() != sha256:
        raise OneWindowError(f"stored file {sha256} is damaged (checksum mismatch)")
    return content


_STORED_NAME = re.compile(r"[0-9a-f]{64}")
SWEPT = ".swept"  # where the sweep sets files aside before it deletes them


@dataclass(frozen=True)
class Orphan:
    path: Path
    reason: str  # "no record" | "unfinished" (a temp file left by a crash) | "set aside" (swept before)
    size: int


def sweep(upload_dir: str | Path, known: Callable[[list[str]], set[str]], older_than_seconds: float,
          dry_run: bool = False, batch: int = 500) -> Iterator[tuple[str, Orphan]]:
    """Remove files under ``upload_dir`` that nothing will ever read; yields (what was done, file).

    A file is written before its transaction commits, so a committed row never points at a missing
    file; when that transaction then fails, or the process dies, the file stays without a row, and a
    crash mid-write leaves a ``.part-`` temp file. ``known`` answers which of a batch of checksums
    have a row.

    Two stages, so a file is never lost to a transaction still running: a stored file without a row,
    older than the grace period, is first set aside under ``.swept/`` (reading it puts it back); a
    file set aside for longer than the grace period is deleted if it still has no row, and put back if
    it has one (the upload that reused it committed after the first look). Ages are by the files' own
    times on the wall clock (the disk's, not the office's settable clock).
    """
    root = Path(upload_dir)
    if not root.is_dir():
        return
    cutoff = time.time() - older_than_seconds
    aside = root / SWEPT
    # stage 2 first, so what stage 1 sets aside now waits a full grace period
    for chunk in _old_files(aside.glob("*") if aside.is_dir() else [], cutoff, batch):
        have = known([p.name for p, _ in chunk])
        for path, size in chunk:
            if path.name in have:
                yield "put back", Orphan(path, "set aside", size)
                if not dry_run:
                    _restore(root, path.name)
            else:
                yield "removed", Orphan(path, "set aside", size)
                if not dry_run:
                    path.unlink(missing_ok=True)
    stored = [p for p in root.glob("??/??/*") if p.is_file() and _STORED_NAME.fullmatch(p.name)]
    for chunk in _old_files(stored, cutoff, batch):
        have = known([p.name for p, _ in chunk])
        for path, size in chunk:
            if path.name not in have:
                yield "set aside", Orphan(path, "no record", size)
                if not dry_run:
                    aside.mkdir(exist_ok=True)
                    os.replace(path, aside / path.name)
                    os.utime(aside / path.name)  # its grace period in .swept/ starts now
    for chunk in _old_files(root.glob("??/??/.part-*"), cutoff, batch):
        for path, size in chunk:
            yield "removed", Orphan(path, "unfinished", size)
            if not dry_run:
                path.unlink(missing_ok=True)


def _old_files(paths: Iterable[Path], cutoff: float, batch: int) -> Iterator[list[tuple[Path, int]]]:
    chunk: list[tuple[Path, int]] = []
    for path in sorted(paths):
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        if st.st_mtime <= cutoff:
            chunk.append((path, st.st_size))
            if len(chunk) >= batch:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _restore(root: Path, sha256: str) -> None:
    target = path_for(root, sha256)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(root / SWEPT / sha256, target)
    except FileNotFoundError:
        pass  # put back by someone else meanwhile
