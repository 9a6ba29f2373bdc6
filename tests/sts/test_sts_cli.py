"""``evd sts check-vectors`` (utilities.sts_cli / utilities.sts.vectors)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from utilities.sts.errors import VectorFileError
from utilities.sts.vectors import check_files, read_keys

from ._data import KEYS_FILE, VECTORS_FILE, data_path

EVD = Path(sys.executable).with_name("evd")


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [str(EVD)] if EVD.exists() else [sys.executable, "-m", "vending.cli.main"]
    return subprocess.run(
        [*command, "sts", "check-vectors", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = data_path(name).read_text()
    assert old in text
    target = tmp_path / name
    target.write_text(text.replace(old, new, 1))
    return target


def test_public_files_pass_through_the_cli() -> None:
    result = _run("--keys", data_path(KEYS_FILE), data_path(VECTORS_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["57 passed, 0 failed"]  # 22 derivations + 35 vectors


def test_corrupted_token_fails_and_is_named(tmp_path: Path) -> None:
    vectors = _copy(tmp_path, VECTORS_FILE, "23716100501183194197", "23716100501183194198")
    result = _run("--keys", data_path(KEYS_FILE), vectors)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[-1] == "56 passed, 1 failed"
    assert len(lines) == 2 and "CTSA01-02.s1" in lines[0]
    assert "23716100501183194197" in lines[0] and "CRC" in lines[0]


def test_corrupted_key_fails_and_is_named(tmp_path: Path) -> None:
    keys = _copy(tmp_path, KEYS_FILE, "aa4baa8749c10d27", "aa4baa8749c10d28")
    result = _run("--keys", keys, data_path(VECTORS_FILE))
    assert result.returncode == 1
    failures = result.stdout.splitlines()[:-1]
    assert any("key K04S-93-1" in line and "aa4baa8749c10d27" in line for line in failures)
    # the vectors using that (now wrong) listed key fail too
    assert any("CTSA24.s1" in line for line in failures)
    assert result.stdout.splitlines()[-1].endswith(f"{len(failures)} failed")


def test_corrupted_payload_fails(tmp_path: Path) -> None:
    vectors = _copy(
        tmp_path,
        VECTORS_FILE,
        ",055a2f1d03e8,50901894209860263092",
        ",055a2f1d03e9,50901894209860263092",
    )
    report = check_files(data_path(KEYS_FILE), vectors)
    assert report.failed == 1
    assert "CTSA03.s1" in report.failures[0] and "payload" in report.failures[0]


def test_unknown_key_id_is_a_failure(tmp_path: Path) -> None:
    vectors = _copy(tmp_path, VECTORS_FILE, "EXT.1,KX-E7B2", "EXT.1,KX-NOPE")
    report = check_files(data_path(KEYS_FILE), vectors)
    assert report.failures == ["vector EXT.1 (key KX-NOPE): unknown key_id 'KX-NOPE'"]


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        (VECTORS_FILE, "vector_id,key_id", "id,key_id", "header"),
        (VECTORS_FILE, ",055998630001,", ",05599863zz01,", "not hexadecimal"),
        (VECTORS_FILE, "CTSA02.s1,-,1,", "CTSA02.s1,-,one,", "not a decimal"),
        (VECTORS_FILE, "CTSA02.s1,-,1,", "CTSA02.s1,-,1,,", "fields"),
        (KEYS_FILE, "K02-A2,DKGA02,abababababababab", "K02-A2,DKGA02,abab", "vending_key"),
        (KEYS_FILE, "K02-A2,DKGA02", "K02-A2,DKGA99", "unknown derivation"),
        (KEYS_FILE, "K02-A2,", "K02-A1,", "duplicate"),
        (KEYS_FILE, ",1993,07,aa4b", ",1993,11,aa4b", "contradicts"),
    ],
)
def test_malformed_csv_exits_2(tmp_path: Path, name: str, old: str, new: str, message: str) -> None:
    changed = _copy(tmp_path, name, old, new)
    keys_path = changed if name == KEYS_FILE else data_path(KEYS_FILE)
    vectors_path = changed if name == VECTORS_FILE else data_path(VECTORS_FILE)
    result = _run("--keys", keys_path, vectors_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = _run("--keys", tmp_path / "nope.csv", data_path(VECTORS_FILE))
    assert result.returncode == 2
    assert "cannot read" in result.stderr and "nope.csv" in result.stderr


def test_binary_file_is_malformed(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(VectorFileError):
        read_keys(garbage)


def test_help_says_what_is_counted() -> None:
    command = [str(EVD)] if EVD.exists() else [sys.executable, "-m", "vending.cli.main"]
    result = subprocess.run(
        [*command, "sts", "check-vectors", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "key derivations" in text and "'direct'" in text and "N passed, M failed" in text
