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
| ONEWINDOW_WEB_WORKERS / _THREADS | 2 / 8 | `serve`'s gunicorn processes and threads each (embedded: 1 process) |
| ONEWINDOW_WEB_TIMEOUT | 30 | seconds a request may take before gunicorn restarts its worker |
| ONEWINDOW_WEB_GRACEFUL_TIMEOUT | 30 | seconds a worker has to finish its requests on a restart or stop |
| ONEWINDOW_WEB_KEEPALIVE | 5 | seconds an idle keep-alive connection is held |
| ONEWINDOW_WEB_MAX_REQUESTS | 0 | restart a worker after this many requests (0: never) |
| ONEWINDOW_WEB_MAX_REQUEST_LINE / _MAX_HEADER_BYTES / _MAX_HEADERS | 8190 / 8190 / 100 | larger: refused (431/400) |
| ONEWINDOW_BROKER_TIMEOUT_MS | 200 | longest a Redis command of a web or scheduler process may take |
| ONEWINDOW_WORKER_BROKER_TIMEOUT_MS | 5000 | the same for `worker` processes |
| ONEWINDOW_METRICS_DIR | (unset: `serve` makes a temporary one) | one directory per machine, shared |
| ONEWINDOW_METRICS_TOKEN | (unset: /metrics only from this host) | the bearer token Prometheus sends |
| ONEWINDOW_LOG_FORMAT | text | json: one JSON object a line (personal data masked either way) |
| ONEWINDOW_SESSION_IDLE_MINUTES | 30 | a page session idle this long is signed out (等保 session time-out) |
| ONEWINDOW_MAX_JSON_BYTES | 1048576 | the largest body of a request that is not an upload (413 past it) |
| ONEWINDOW_OIDC_ISSUER | (unset: applicants cannot sign in) | the identity service (统一身份认证); discovery under it |
| ONEWINDOW_OIDC_CLIENT_ID / _CLIENT_SECRET | (unset) | this office's registration with the identity service |
| ONEWINDOW_OIDC_SCOPE | openid profile phone | the scopes asked for (a service may want its own for the ID) |
| ONEWINDOW_OIDC_ID_CLAIM | id_number | the ID token's claim holding the citizen ID number (GB 11643) |
| ONEWINDOW_OIDC_NAME_CLAIM / _PHONE_CLAIM | name / phone_number | the claims holding the name and the phone |
| ONEWINDOW_OIDC_ORG_CLAIM | organizations | the claim naming the organisations (credit codes) the person may act for |
| ONEWINDOW_OIDC_TIMEOUT_SECONDS | 10 | longest a call to the identity service may take |
| ONEWINDOW_FOLLOWUP_WORKING_DAYS | 15 | working days to follow up a bad rating (差评回访整改), 1-365 |
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
    web_workers: int = 2
    web_threads: int = 8
    web_timeout: int = 30
    web_graceful_timeout: int = 30
    web_keepalive: int = 5
    web_max_requests: int = 0
    web_max_request_line: int = 8190
    web_max_header_bytes: int = 8190
    web_max_headers: int = 100
    broker_timeout_ms: int = 200
    worker_broker_timeout_ms: int = 5000
    metrics_dir: str | None = None
    metrics_token: str | None = None
    log_format: str = "text"
    session_idle_minutes: int = 30
    max_json_bytes: int = 1024 * 1024
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scope: str = "openid profile phone"
    oidc_id_claim: str = "id_number"
    oidc_name_claim: str = "name"
    oidc_phone_claim: str = "phone_number"
    oidc_org_claim: str = "organizations"
    oidc_timeout_seconds: int = 10
    followup_working_days: int = 15

    def __post_init__(self) -> None:
        if not self.database_url:
            self.database_url = f"sqlite:///{Path(self.instance_dir) / 'onewindow.db'}"
        if not self.upload_dir:
            self.upload_dir = str(Path(self.instance_dir) / "uploads")
        if not 1 <= self.followup_working_days <= 365:
            raise ValueError("ONEWINDOW_FOLLOWUP_WORKING_DAYS must be 1 to 365 working days, "
                             f"not {self.followup_working_days}")
        if self.log_format not in ("text", "json"):
            raise ValueError(f"ONEWINDOW_LOG_FORMAT must be text or json, not {self.log_format!r}")


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
