"""Run Alembic programmatically: `onewindow db upgrade` and the test fixtures use this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import engine
import onewindow

PACKAGES = ("engine", "intake", "sla", "worklists")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(onewindow.__file__).parent / "migrations"))
    root = Path(engine.__file__).resolve().parent.parent
    locations = [str(root / p / "migrations" / "versions") for p in PACKAGES
                 if (root / p / "migrations" / "versions").is_dir()]
    cfg.set_main_option("version_locations", " ".join(locations))
    cfg.set_main_option("path_separator", "space")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, engine_=None) -> None:
    cfg = alembic_config(url)
    if engine_ is not None:
        with engine_.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "heads")
    else:
        command.upgrade(cfg, "heads")


def revision(url: str, message: str, branch: str, head: str | None = None) -> None:
    cfg = alembic_config(url)
    command.revision(cfg, message=message, autogenerate=True, head=head or f"{branch}@head")
