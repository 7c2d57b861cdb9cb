"""Every setting, read in one place from ONEWINDOW_* variables, with safe embedded defaults.

| variable | default | production |
|---|---|---|
| ONEWINDOW_DATABASE_URL | sqlite file instance/onewindow.db | postgresql+psycopg://user@host/db |
| ONEWINDOW_REDIS_URL | (unset: in-process broker + worker thread) | redis://host:6379/0 |
| ONEWINDOW_FAKE_NOW | (unset: real time) | never set in production |
| ONEWINDOW_TIMEZONE | Asia/Shanghai | the office's zone |
| ONEWINDOW_CALENDAR_DIR | bpmn/calendar | a directory the office maintains |
| ONEWINDOW_ESCALATION_FILE | bpmn/sla/escalation.yaml | the office's escalation chain (SLA) |
| ONEWINDOW_CATALOG_DIR | bpmn/catalog | |
| ONEWINDOW_UPLOAD_DIR | instance/uploads | shared storage |
| ONEWINDOW_SECRET_KEY | random per start | a long random string |
| ONEWINDOW_OFFICE_NAME | 示范区政务服务中心 | the office's name |
| ONEWINDOW_SMTP_URL | (unset: no email) | smtp://host:25 |
| ONEWINDOW_WEBHOOK_URL / _SECRET | (unset) | alert receiver and its HMAC key |
| ONEWINDOW_TICK_SECONDS | 60 | 60 |
| ONEWINDOW_STATE_MAX_BYTES / _DEPTH | 2000000 / 500 | past these a case is flagged (docs/long_lived.md) |
| ONEWINDOW_TOKEN_CACHE_SECONDS | 5 | how long a web process trusts what it read about a token (0: never) |
| ONEWINDOW_TRUSTED_PROXIES | 0 | reverse proxies in front (1 behind one nginx); they name the client |
| ONEWINDOW_SCRIPT_TIME_LIMIT_MS | 1000 | what one script or condition may run (its worker is killed past it + 1 s) |
| ONEWINDOW_SCRIPT_MEMORY_MB | 512 | address space of each script worker process |
| ONEWINDOW_SCRIPT_WORKERS | 2 | script worker processes per web or worker process (scripts run at once) |
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Settings:
    database_url: str = ""
    redis_url: str | None = None
    fake_now: str | None = None
    timezone: str = "Asia/Shanghai"
    calendar_dir: str = str(ROOT / "bpmn" / "calendar")
    escalation_file: str = str(ROOT / "bpmn" / "sla" / "escalation.yaml")
    catalog_dir: str = str(ROOT / "bpmn" / "catalog")
    processes_dir: str = str(ROOT / "bpmn" / "processes")
    instance_dir: str = str(ROOT / "instance")
    upload_dir: str = ""
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    office_name: str = "示范区政务服务中心"
    smtp_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    tick_seconds: int = 60
    max_upload_bytes: int = 20 * 1024 * 1024
    state_max_bytes: int = 2_000_000
    state_max_depth: int = 500
    token_cache_seconds: int = 5
    trusted_proxies: int = 0
    script_time_limit_ms: int = 1000
    script_memory_mb: int = 512
    script_workers: int = 2

    def __post_init__(self) -> None:
        if not self.database_url:
            self.database_url = f"sqlite:///{Path(self.instance_dir) / 'onewindow.db'}"
        if not self.upload_dir:
            self.upload_dir = str(Path(self.instance_dir) / "uploads")


def from_env(environ: dict[str, str] | None = None, **overrides) -> Settings:
    """Build settings from ONEWINDOW_<FIELD> variables; keyword overrides win (tests)."""
    env = os.environ if environ is None else environ
    values: dict = {}
    for f in fields(Settings):
        raw = env.get(f"ONEWINDOW_{f.name.upper()}")
        if raw is None or raw == "":
            continue
        if f.type in ("int",):
            try:
                values[f.name] = int(raw)
            except ValueError:
                raise ValueError(f"ONEWINDOW_{f.name.upper()} must be a whole number, not {raw!r}") from None
        else:
            values[f.name] = raw
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
