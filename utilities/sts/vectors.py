"""Conformance check of the engine against key and token vector CSV files (sts.md §6).

Two layouts, as in the project's shared data:

* keys: ``key_id,derivation,vending_key,iin,drn,pan,kt,sgc,ti,krn,base_date,ea,decoder_key``
  with derivation ``DKGA02``, ``DKGA04/STA``, ``DKGA04/MISTY1`` or ``direct`` (a decoder
  key given as is; nothing to derive);
* vectors: ``vector_id,key_id,class,payload48_hex,expected_token,description`` where
  key_id ``-`` means no key (class 1).

Each derivable key is derived from its inputs and compared with the listed decoder key.
Each vector is encoded with the listed decoder key and compared with the expected token,
and the expected token is decoded back and compared with class and payload.  A file that
cannot be read or interpreted raises :class:`VectorFileError`; wrong values are failures.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from utilities.sts.dkga import derive_decoder_key
from utilities.sts.errors import StsError, VectorFileError
from utilities.sts.tokens import decode_token, encode_token

KEY_COLUMNS = (
    "key_id",
    "derivation",
    "vending_key",
    "iin",
    "drn",
    "pan",
    "kt",
    "sgc",
    "ti",
    "krn",
    "base_date",
    "ea",
    "decoder_key",
)
VECTOR_COLUMNS = ("vector_id", "key_id", "class", "payload48_hex", "expected_token", "description")
NO_KEY = "-"
_DERIVATIONS = {"DKGA02": (2, None), "DKGA04/STA": (4, 7), "DKGA04/MISTY1": (4, 11)}
DIRECT = "direct"


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    derivation: str
    decoder_key: bytes
    line: int
    vending_key: bytes | None = None
    iin: str | None = None
    drn: str | None = None
    pan: str | None = None
    key_type: int | None = None
    sgc: str | None = None
    tariff_index: str | None = None
    krn: int | None = None
    base_date: int = 1993
    ea: int = 7

    @property
    def is_derived(self) -> bool:
        return self.derivation != DIRECT


@dataclass(frozen=True)
class VectorRecord:
    vector_id: str
    key_id: str
    token_class: int
    payload48: int
    expected_token: str
    description: str
    line: int


@dataclass
class CheckReport:
    passed: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"


def _rows(path: Path, columns: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise VectorFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with handle:
        try:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise VectorFileError(f"{path}: file is empty, expected header {','.join(columns)}")
            if tuple(name.strip() for name in header) != tuple(columns):
                raise VectorFileError(
                    f"{path}: header is {','.join(header)!r}, expected {','.join(columns)!r}"
                )
            for row in reader:
                line = reader.line_num
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != len(columns):
                    raise VectorFileError(
                        f"{path}:{line}: {len(row)} fields, expected {len(columns)}"
                    )
                yield line, {name: cell.strip() for name, cell in zip(columns, row, strict=True)}
        except (csv.Error, UnicodeDecodeError) as exc:
            raise VectorFileError(f"{path}: not a readable CSV file: {exc}") from exc


def _hex_bytes(text: str, where: str, what: str, lengths: tuple[int, ...]) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise VectorFileError(f"{where}: {what} {text!r} is not hexadecimal") from None
    if len(value) not in lengths:
        expected = " or ".join(str(n) for n in lengths)
        raise VectorFileError(f"{where}: {what} must be {expected} bytes, got {len(value)}")
    return value


def _int(text: str, where: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise VectorFileError(f"{where}: {what} {text!r} is not a decimal number")
    return int(text)


def _optional(text: str) -> str | None:
    return text or None


def read_keys(path: str | Path) -> dict[str, KeyRecord]:
    """Key records by key_id; raises VectorFileError for unreadable or malformed files."""
    path = Path(path)
    keys: dict[str, KeyRecord] = {}
    for line, row in _rows(path, KEY_COLUMNS):
        where = f"{path}:{line}"
        key_id, derivation = row["key_id"], row["derivation"]
        if not key_id:
            raise VectorFileError(f"{where}: empty key_id")
        if key_id in keys:
            raise VectorFileError(f"{where}: duplicate key_id {key_id!r}")
        decoder_key = _hex_bytes(row["decoder_key"], where, "decoder_key", (8, 16))
        if derivation == DIRECT:
            keys[key_id] = KeyRecord(key_id, derivation, decoder_key, line)
            continue
        if derivation not in _DERIVATIONS:
            known = ", ".join([*_DERIVATIONS, DIRECT])
            raise VectorFileError(f"{where}: unknown derivation {derivation!r} (known: {known})")
        dkga, label_ea = _DERIVATIONS[derivation]
        vk_length = 8 if dkga == 2 else 20
        vending_key = _hex_bytes(row["vending_key"], where, "vending_key", (vk_length,))
        ea = _int(row["ea"], where, "ea") if row["ea"] else (label_ea or 7)
        if label_ea is not None and ea != label_ea:
            raise VectorFileError(f"{where}: derivation {derivation} contradicts ea {row['ea']}")
        if not row["pan"] and not row["drn"]:
            raise VectorFileError(f"{where}: a pan or a drn is required for {derivation}")
        keys[key_id] = KeyRecord(
            key_id,
            derivation,
            decoder_key,
            line,
            vending_key=vending_key,
            iin=_optional(row["iin"]),
            drn=_optional(row["drn"]),
            pan=_optional(row["pan"]),
            key_type=_int(row["kt"], where, "kt"),
            sgc=row["sgc"],
            tariff_index=row["ti"],
            krn=_int(row["krn"], where, "krn"),
            base_date=_int(row["base_date"], where, "base_date") if row["base_date"] else 1993,
            ea=ea,
        )
    return keys


def read_vectors(path: str | Path) -> list[VectorRecord]:
    path = Path(path)
    vectors = []
    for line, row in _rows(path, VECTOR_COLUMNS):
        where = f"{path}:{line}"
        if not row["vector_id"]:
            raise VectorFileError(f"{where}: empty vector_id")
        token_class = _int(row["class"], where, "class")
        if token_class > 3:
            raise VectorFileError(f"{where}: class {token_class} is not 0..3")
        try:
            payload48 = int(row["payload48_hex"], 16)
        except ValueError:
            raise VectorFileError(
                f"{where}: payload48_hex {row['payload48_hex']!r} is not hexadecimal"
            ) from None
        if payload48 >> 48:
            raise VectorFileError(f"{where}: payload48_hex is wider than 48 bits")
        vectors.append(
            VectorRecord(
                row["vector_id"],
                row["key_id"],
                token_class,
                payload48,
                row["expected_token"],
                row["description"],
                line,
            )
        )
    return vectors


def check_key(record: KeyRecord) -> str | None:
    """None if the derivation reproduces the listed decoder key, else what differed."""
    assert record.vending_key is not None and record.key_type is not None
    assert record.krn is not None and record.sgc is not None and record.tariff_index is not None
    try:
        derived = derive_decoder_key(
            record.vending_key,
            dkga=_DERIVATIONS[record.derivation][0],
            iin=record.iin,
            drn=record.drn,
            pan=record.pan,
            key_type=record.key_type,
            sgc=record.sgc,
            tariff_index=record.tariff_index,
            krn=record.krn,
            base_date=record.base_date,
            ea=record.ea,
        )
    except StsError as exc:
        return f"key {record.key_id}: derivation failed: {exc}"
    if derived != record.decoder_key:
        return (
            f"key {record.key_id}: {record.derivation} derived {derived.hex()}, "
            f"listed decoder_key {record.decoder_key.hex()}"
        )
    return None


def check_vector(record: VectorRecord, keys: dict[str, KeyRecord]) -> str | None:
    """None if encoding and decoding reproduce the vector, else what differed."""
    label = f"vector {record.vector_id} (key {record.key_id})"
    if record.key_id == NO_KEY:
        decoder_key = b""
    elif record.key_id in keys:
        decoder_key = keys[record.key_id].decoder_key
    else:
        return f"{label}: unknown key_id {record.key_id!r}"
    problems = []
    try:
        token = encode_token(decoder_key, record.token_class, record.payload48)
    except (StsError, ValueError) as exc:
        problems.append(f"encoding failed: {exc}")
    else:
        if token != record.expected_token:
            problems.append(f"encoded token {token}, expected {record.expected_token}")
    try:
        decoded = decode_token(decoder_key, record.expected_token)
    except (StsError, ValueError) as exc:
        problems.append(f"decoding the expected token failed: {exc}")
    else:
        expected = (record.token_class, record.payload48)
        if decoded != expected:
            problems.append(
                f"decoded class {decoded[0]} payload {decoded[1]:012x}, "
                f"expected class {expected[0]} payload {expected[1]:012x}"
            )
    return f"{label}: " + "; ".join(problems) if problems else None


def check_files(keys_path: str | Path, vectors_path: str | Path) -> CheckReport:
    """Check every key derivation and every vector; counts exclude 'direct' keys."""
    keys = read_keys(keys_path)
    vectors = read_vectors(vectors_path)
    report = CheckReport()
    outcomes = [check_key(key) for key in keys.values() if key.is_derived]
    outcomes += [check_vector(vector, keys) for vector in vectors]
    for outcome in outcomes:
        if outcome is None:
            report.passed += 1
        else:
            report.failures.append(outcome)
    return report
