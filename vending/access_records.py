"""One access record per answered request, as every channel writes it: the record's fields go
in ``extra["access"]`` (the access formatters print them as one JSON or key=value line), and
the record goes straight to the logger's handlers.

Why not ``Logger.info``: it first walks up the stack for the caller's file, line and
function, once per request, for fields no access formatter prints. Level, ``disabled`` and
filters still apply (``Logger.handle``)."""

from __future__ import annotations

import logging


def write_access(logger: logging.Logger, message: str, fields: dict[str, object]) -> None:
    if logger.isEnabledFor(logging.INFO):
        logger.handle(
            logger.makeRecord(
                logger.name,
                logging.INFO,
                __file__,
                0,
                message,
                (),
                None,
                func="write_access",
                extra={"access": fields},
            )
        )
