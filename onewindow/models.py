"""Every package's tables in one metadata (for Alembic): the root knows all packages."""

import engine.models  # noqa: F401
from engine.db import Base

for _pkg in ("intake.models", "worklists.models", "sla.models"):
    try:
        __import__(_pkg)
    except ModuleNotFoundError as exc:  # a package without tables of its own
        if exc.name != _pkg:
            raise

metadata = Base.metadata
