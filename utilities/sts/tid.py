"""Token Identifier (IEC 62055-41 6.3.5; reference sts.md §1.4).

The TID is the number of whole minutes elapsed since 00:00 on 1 January of the base year
(1993, 2014 or 2035), in 24 bits.  Seconds are truncated.  The last representable minute
is base + 0xFFFFFF minutes (e.g. 2024-11-24 20:15 on the 1993 base), after which a TID
roll-over to the next base date is needed (sts.md §8).

The public material does not fix a time zone; naive datetimes are taken as they are and
aware datetimes are converted to UTC first, so one deployment must stick to one convention.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from utilities.sts.errors import TidRangeError

BASE_YEARS = (1993, 2014, 2035)
TID_BITS = 24
MAX_TID = (1 << TID_BITS) - 1
_ONE_MINUTE = timedelta(minutes=1)


def base_datetime(base_year: int) -> datetime:
    """The naive datetime 00:00 1 January of one of the three STS base years."""
    if base_year not in BASE_YEARS:
        raise ValueError(f"STS base date must be one of {BASE_YEARS}, got {base_year!r}")
    return datetime(base_year, 1, 1)


def last_representable_minute(base_year: int) -> datetime:
    return base_datetime(base_year) + MAX_TID * _ONE_MINUTE


def _naive(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def tid_from_datetime(issued_at: datetime, base_year: int = 1993) -> int:
    """Whole minutes from the base date to ``issued_at`` (seconds truncated)."""
    base = base_datetime(base_year)
    moment = _naive(issued_at)
    if moment < base:
        raise TidRangeError(f"issue time {moment} is before the TID base date {base:%Y-%m-%d}")
    tid = (moment - base) // _ONE_MINUTE
    if tid > MAX_TID:
        raise TidRangeError(
            f"issue time {moment} is after the last minute representable on the "
            f"{base_year} base ({last_representable_minute(base_year):%Y-%m-%d %H:%M}); "
            "the meter needs a TID roll-over key change to a later base date"
        )
    return tid


def datetime_from_tid(tid: int, base_year: int = 1993) -> datetime:
    """The (naive) minute a TID stands for."""
    if not 0 <= tid <= MAX_TID:
        raise TidRangeError(f"TID {tid} is outside 0..{MAX_TID}")
    return base_datetime(base_year) + tid * _ONE_MINUTE
