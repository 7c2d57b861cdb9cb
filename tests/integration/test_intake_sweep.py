"""Files left on disk by transactions that failed are swept in two stages; a file with a record, or
one a still-running transaction reuses, is never lost."""

from __future__ import annotations

import os
import time

from engine import clock
from intake import storage
from intake.models import StoredFile

PDF = b"%PDF-1.7\n% %s\n%%EOF\n"
TWO_DAYS = 2 * 24 * 3600


def _file(upload_dir, n: int, *, record: bool, app=None, age: float = TWO_DAYS):
    up = storage.check_upload(f"f{n}.pdf", PDF.replace(b"%s", str(n).encode()), max_bytes=10_000, field="f")
    path = storage.put(upload_dir, up)
    if record:
        _record(app, up.sha256)
    old = time.time() - age
    os.utime(path, (old, old))
    return up.sha256, path


def _record(app, sha256: str) -> None:
    with app.extensions["onewindow.db"].unit_of_work() as uow:
        uow.session.add(StoredFile(sha256=sha256, size=1, content_type="application/pdf", created_at=clock.now()))


def _sweep(app, *args: str):
    result = app.test_cli_runner().invoke(args=["materials", "sweep", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_file_without_a_record_is_set_aside_then_removed_and_kept_files_stay(sqlite_app):
    upload_dir = sqlite_app.config["ONEWINDOW"].upload_dir
    # Given a stored file with its record, an old file without one (its transaction failed), a fresh
    # file without one (its transaction may still be running) and a half-written temp file
    kept_sha, kept = _file(upload_dir, 1, record=True, app=sqlite_app)
    lost_sha, lost = _file(upload_dir, 2, record=False)
    _fresh_sha, fresh = _file(upload_dir, 3, record=False, age=60)
    part = kept.parent / ".part-abc123"
    part.write_bytes(b"half")
    old = time.time() - TWO_DAYS
    os.utime(part, (old, old))
    # When a dry run looks: it names them and changes nothing
    out = _sweep(sqlite_app, "--dry-run")
    assert "would be set aside" in out and lost_sha in out and ".part-abc123" in out
    assert lost.exists() and part.exists()
    # When the sweep runs
    out = _sweep(sqlite_app)
    # Then the file without a record is set aside, the temp file removed, the others untouched
    aside = storage.path_for(upload_dir, lost_sha).parent.parent.parent / storage.SWEPT / lost_sha
    assert not lost.exists() and aside.exists() and not part.exists()
    assert kept.exists() and fresh.exists()
    assert storage.read(upload_dir, kept_sha).startswith(b"%PDF")
    # When the next sweep comes within the grace period: nothing more happens
    _sweep(sqlite_app)
    assert aside.exists()
    # When it comes after the grace period and still no record points at the file: it is removed
    os.utime(aside, (old, old))
    out = _sweep(sqlite_app)
    assert not aside.exists() and "removed" in out and "1 file(s)" in out
    assert kept.exists() and fresh.exists()


def test_a_file_set_aside_that_gets_a_record_is_put_back(sqlite_app):
    upload_dir = sqlite_app.config["ONEWINDOW"].upload_dir
    # Given two old files without records, set aside by a sweep
    a_sha, a = _file(upload_dir, 4, record=False)
    b_sha, b = _file(upload_dir, 5, record=False)
    _sweep(sqlite_app)
    assert not a.exists() and not b.exists()
    # When uploads that reused them commit (they found the files on disk before the sweep moved them)
    _record(sqlite_app, a_sha)
    _record(sqlite_app, b_sha)
    # Then reading one puts it back at once
    assert storage.read(upload_dir, a_sha) == PDF.replace(b"%s", b"4") and a.exists()
    # And the sweep after the grace period puts the other back instead of removing it
    aside = a.parent.parent.parent / storage.SWEPT / b_sha
    old = time.time() - TWO_DAYS
    os.utime(aside, (old, old))
    out = _sweep(sqlite_app)
    assert "put back" in out and b.exists() and not aside.exists()
    assert storage.read(upload_dir, b_sha) == PDF.replace(b"%s", b"5")


def test_the_grace_period_is_at_least_an_hour(sqlite_app):
    result = sqlite_app.test_cli_runner().invoke(args=["materials", "sweep", "--older-than-hours", "0.1"])
    assert result.exit_code != 0 and "at least 1 hour" in result.output
