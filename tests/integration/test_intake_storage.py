"""Materials on disk: content-addressed, sniffed types, size limit, checksum verified on read."""

from __future__ import annotations

import hashlib

import pytest

from engine.errors import Invalid, OneWindowError
from intake import storage
from intake.ratelimit import RateLimiter, TooManyRequests

PDF = b"%PDF-1.7\n% x\n%%EOF\n"


def test_a_file_is_stored_once_under_its_checksum(tmp_path):
    up = storage.check_upload("../../etc/lease.pdf", PDF, max_bytes=1000, field="f")
    assert up.name == "lease.pdf" and up.content_type == "application/pdf"
    assert up.sha256 == hashlib.sha256(PDF).hexdigest()
    path = storage.put(tmp_path, up)
    assert path == tmp_path / up.sha256[:2] / up.sha256[2:4] / up.sha256
    assert storage.put(tmp_path, up) == path  # a second copy is not written
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [path]
    assert storage.read(tmp_path, up.sha256) == PDF


def test_a_damaged_file_is_detected(tmp_path):
    up = storage.check_upload("a.pdf", PDF, max_bytes=1000, field="f")
    storage.put(tmp_path, up).write_bytes(PDF + b"tampered")
    with pytest.raises(OneWindowError, match="checksum"):
        storage.read(tmp_path, up.sha256)


@pytest.mark.parametrize(("content", "kind"), [
    (b"\xff\xd8\xff\xe0" + b"\0" * 8, "image/jpeg"), (b"\x89PNG\r\n\x1a\n" + b"\0" * 8, "image/png"),
])
def test_images_are_accepted(content, kind):
    assert storage.check_upload("x", content, max_bytes=100, field="f").content_type == kind


def test_limits_and_types(tmp_path):
    with pytest.raises(storage.FileTooLarge):
        storage.check_upload("a.pdf", PDF, max_bytes=5, field="materials[0].file")
    with pytest.raises(Invalid) as exc:
        storage.check_upload("a.pdf", b"MZ\x90\x00", max_bytes=100, field="materials[0].file")
    assert exc.value.problems[0].field == "materials[0].file"
    with pytest.raises(Invalid):
        storage.check_upload("a.pdf", b"", max_bytes=100, field="f")


def test_rate_limiter_window_per_client():
    limiter = RateLimiter(limit=2, seconds=60)
    limiter.hit("a")
    limiter.hit("a")
    with pytest.raises(TooManyRequests):
        limiter.hit("a")
    limiter.hit("b")
