"""Single-process throughput of the STS token engine.

Run: ``.venv/bin/python -m tools.bench_sts [--seconds N]``.  Prints tokens/s for STA and
MISTY1 credit tokens (built with ``credit_token``: TID from a datetime, amount coding, CRC,
encryption, digits) for one meter key (key schedule cached) and for a new key on every
token (schedule rebuilt each time), and derivations/s for DKGA-02 and DKGA-04.
"""

from __future__ import annotations

import argparse
import platform
import secrets
import shlex
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from utilities.sts import credit_token, derive_decoder_key
from utilities.sts.pan import luhn_check_digit

VK02 = bytes.fromhex("abababababababab")
VK04 = bytes.fromhex("abababababababab949494949494949401234567")
START = datetime(2004, 3, 1, 13, 55)


def measure(label: str, unit: str, seconds: float, step: Callable[[int], object]) -> float:
    """Call ``step(i)`` in batches until ``seconds`` have passed; print and return rate."""
    count = 0
    batch = 1000
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        for i in range(count, count + batch):
            step(i)
        count += batch
        now = time.perf_counter()
        if now >= deadline:
            break
    rate = count / (now - started)
    print(f"{label:<44} {rate:>12,.0f} {unit}/s  ({count:,} in {now - started:.1f} s)")
    return rate


def _meter_numbers(count: int) -> list[str]:
    body = [f"47{n:08d}" for n in range(count)]
    return [drn + luhn_check_digit(drn) for drn in body]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_sts", description=__doc__)
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="duration of each measurement (default 3)"
    )
    args = parser.parse_args(argv)
    print(f"command: {shlex.join([sys.executable, '-m', 'tools.bench_sts', *sys.argv[1:]])}")
    print(f"python {platform.python_version()} on {platform.machine()}, single process")

    sta_key = derive_decoder_key(
        VK02, dkga=2, drn="47500150231", key_type=2, sgc="123456", tariff_index=1, krn=1
    )
    misty_key = derive_decoder_key(
        VK04, dkga=4, drn="47500150231", key_type=2, sgc="123456", tariff_index=1, krn=1, ea=11
    )
    minutes = [START + timedelta(minutes=i) for i in range(100_000)]
    random_sta_keys = [secrets.token_bytes(8) for _ in range(100_000)]
    random_misty_keys = [secrets.token_bytes(16) for _ in range(100_000)]
    meters = _meter_numbers(100_000)
    seconds = args.seconds

    def sta_same_key(i: int) -> object:
        return credit_token(sta_key, units=1 + i % 5000, issued_at=minutes[i % 100_000], rnd=5)

    def sta_new_key(i: int) -> object:
        key = random_sta_keys[i % 100_000]
        return credit_token(key, units=1 + i % 5000, issued_at=minutes[i % 100_000], rnd=5)

    def misty_same_key(i: int) -> object:
        return credit_token(misty_key, units=1 + i % 5000, issued_at=minutes[i % 100_000], rnd=5)

    def misty_new_key(i: int) -> object:
        key = random_misty_keys[i % 100_000]
        return credit_token(key, units=1 + i % 5000, issued_at=minutes[i % 100_000], rnd=5)

    def dkga02(i: int) -> object:
        return derive_decoder_key(
            VK02, dkga=2, drn=meters[i % 100_000], key_type=2, sgc="123456", tariff_index=1, krn=1
        )

    def dkga04(i: int) -> object:
        return derive_decoder_key(
            VK04, dkga=4, drn=meters[i % 100_000], key_type=2, sgc="123456", tariff_index=1,
            krn=1, base_date=2014, ea=11,
        )  # fmt: skip

    measure("STA credit tokens, one meter key", "tokens", seconds, sta_same_key)
    measure("STA credit tokens, new key per token", "tokens", seconds, sta_new_key)
    measure("MISTY1 credit tokens, one meter key", "tokens", seconds, misty_same_key)
    measure("MISTY1 credit tokens, new key per token", "tokens", seconds, misty_new_key)
    measure("DKGA-02 derivations (PAN from DRN)", "derivations", seconds, dkga02)
    measure("DKGA-04 derivations (PAN from DRN, EA11)", "derivations", seconds, dkga04)
    return 0


if __name__ == "__main__":
    sys.exit(main())
