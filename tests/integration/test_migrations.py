"""The migrations stay one line per package and build exactly the tables the models declare.

Several people add tables at once; a second head in a package's branch, or a model column that no
migration creates, would otherwise surface only on a fresh production database.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from engine.db import Database
from onewindow import migrate
from onewindow.models import metadata


def test_each_package_has_exactly_one_head(tmp_path):
    # Given every package's version folder
    script = ScriptDirectory.from_config(migrate.alembic_config(f"sqlite:///{tmp_path / 'x.db'}"))
    # When each head is traced down its own line (down_revision, not depends_on) to its package's label
    heads: dict[str, list[str]] = {}
    for head in script.get_revisions("heads"):
        rev, label = head, None
        while rev is not None and label is None:
            label = next(iter(rev.branch_labels), None)
            rev = script.get_revision(rev.down_revision) if rev.down_revision else None
        heads.setdefault(label or "?", []).append(head.revision)
    # Then no package has two heads
    assert heads, "no migration heads found"
    assert {label: revs for label, revs in heads.items() if len(revs) > 1} == {}


def test_migrations_create_what_the_models_declare(tmp_path):
    # Given a fresh database brought up by the migrations alone
    db = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    migrate.upgrade(db.url, db.engine)
    # When alembic compares it with the models' metadata
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    db.dispose()
    # Then nothing is missing or extra
    assert diff == []
