"""Access to the public STS key and vector CSV files.

``tests/sts/data`` holds verbatim copies of the public files, so the suite depends on nothing
outside the repository.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

KEYS_FILE = "sts-keys.csv"
VECTORS_FILE = "sts-vectors-public.csv"
_LOCAL = Path(__file__).resolve().parent / "data"


def data_path(name: str) -> Path:
    return _LOCAL / name


@cache
def key_rows() -> dict[str, dict[str, str]]:
    with data_path(KEYS_FILE).open(newline="") as handle:
        return {row["key_id"]: row for row in csv.DictReader(handle)}


@cache
def vector_rows() -> list[dict[str, str]]:
    with data_path(VECTORS_FILE).open(newline="") as handle:
        return list(csv.DictReader(handle))


def decoder_key(key_id: str) -> bytes:
    return bytes.fromhex(key_rows()[key_id]["decoder_key"])
