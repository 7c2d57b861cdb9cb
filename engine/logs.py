"""How the long-running processes log: plain text lines, or one JSON object a line
(``ONEWINDOW_LOG_FORMAT=json``) for a log collector. Either way every handler masks ID and phone
numbers (``engine.privacy.PersonalDataFilter``), exceptions included.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from engine.privacy import PersonalDataFilter, mask_text

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "process", "thread"[, "exception"]}``, one a line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            "thread": record.threadName,
        }
        if record.exc_info or record.exc_text:
            entry["exception"] = record.exc_text or mask_text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def mask_personal_data() -> None:
    """ID and phone numbers are masked by every root log handler (call again after adding one)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, PersonalDataFilter) for f in handler.filters):
            handler.addFilter(PersonalDataFilter())


def configure(log_format: str = "text", level: int = logging.INFO) -> None:
    """One stderr handler on the root logger in the chosen format; SpiffWorkflow's per-task chatter off."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("spiff").setLevel(logging.WARNING)
    mask_personal_data()
