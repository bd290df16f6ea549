"""Secrets kept out of every log line: the API keys of a config, redacted by a filter."""

from __future__ import annotations

import logging
import typing as t

from typing_extensions import override


class SecretRedactor(logging.Filter):
    """Replaces a secret in every log line passing through a handler.

    The tap never logs the key itself; this guards against a library that might.
    """

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if self.secret in message or (record.exc_text and self.secret in record.exc_text):
            record.msg, record.args = message.replace(self.secret, "[redacted]"), None
            if record.exc_text:
                record.exc_text = record.exc_text.replace(self.secret, "[redacted]")
        return True


def api_keys(config: t.Mapping[str, t.Any]) -> list[str]:
    """Every API key in a config, as sent (stripped), valid or not: all are secret."""
    keys = [config.get("api_key")]
    entries = config.get("accounts")
    if isinstance(entries, list):
        keys += [entry.get("api_key") for entry in entries if isinstance(entry, dict)]
    return [key.strip() for key in keys if isinstance(key, str) and key.strip()]


def redact_from_logs(secret: str) -> None:
    """Install a SecretRedactor on every handler that exists now."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if not any(
                isinstance(f, SecretRedactor) and f.secret == secret for f in handler.filters
            ):
                handler.addFilter(SecretRedactor(secret))
