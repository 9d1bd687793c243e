"""structlog set-up: JSON in production, console in development.

The request id (and, in workers, the task id) is bound with contextvars so that
every line carries it. A processor redacts secrets so that passwords, tokens and
API keys never reach a log line.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SENSITIVE_KEYS = re.compile(r"pass(word)?|secret|token|api[_-]?key|authorization|cookie|credential", re.I)
SENSITIVE_VALUES = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),  # JWTs
    re.compile(r"wk_[A-Za-z0-9_-]{20,}"),  # Water API keys
    re.compile(r"(?i)(password|apikey|api_key|token)=([^&\s]+)"),
]
# Every text one of SENSITIVE_VALUES can match also matches this (a superset, case-insensitive):
# most log text does not, and skips the four substitutions.
MAY_HOLD_SECRET = re.compile(r"bearer|eyj|wk_|password=|apikey=|api_key=|token=", re.I)
REDACTED = "[redacted]"
HANDLER_NAME = "water"


def _redact_text(text: str) -> str:
    if MAY_HOLD_SECRET.search(text) is None:
        return text
    for pattern in SENSITIVE_VALUES:
        if pattern.groups >= 2:
            text = pattern.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
        elif pattern.groups == 1:
            text = pattern.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


@functools.lru_cache(maxsize=4096)
def _sensitive_key(key: str) -> bool:
    return SENSITIVE_KEYS.search(key) is not None and key not in {"password_policy"}


def _redact(value: Any, key: str = "") -> Any:
    if key and _sensitive_key(key):
        return REDACTED
    if isinstance(value, str):
        return _redact_text(value)
    if isinstance(value, dict):
        return {k: _redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact(v) for v in value]
    return value


def redact_secrets(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return {k: (v if k in {"timestamp", "level", "logger"} else _redact(v, k)) for k, v in event_dict.items()}


def configure_logging(*, json_logs: bool, level: str = "INFO") -> None:
    """Route structlog and the standard library through one pipeline."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info if json_logs else structlog.processors.StackInfoRenderer(),
        redact_secrets,
    ]
    # Plain tracebacks: rich ones print local variables, which may hold secrets.
    console = structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    renderer: Any = structlog.processors.JSONRenderer() if json_logs else console
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler: logging.Handler = logging.StreamHandler(sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    # Replace only our own handler, so that others (e.g. pytest's capture) keep working.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != HANDLER_NAME] + [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "celery", "alembic"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
