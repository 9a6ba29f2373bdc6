"""``evd bulk`` against a served ``evd serve`` (demo data): seal a plain CSV, submit it with
the progress bar, save the results; the same file again sells nothing."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_support import ServerProcess, evd, write_config

from vending.api_demo import DEMO_API_KEY


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    directory = tmp_path_factory.mktemp("evd-live-bulk")
    config = write_config(directory, '[vouchers]\ngnupg_home = "var/gnupg"\n')
    evd(config, "db", "upgrade")
    evd(config, "demo")
    server = ServerProcess.start(config)
    try:
        yield server, config
    finally:
        server.kill()


def test_bulk_file_submitted_followed_and_saved(live, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, config = live
    base = server.url.rsplit("/xmlvend", 1)[0]
    plain = tmp_path / "plain.csv"
    plain.write_text(
        "product,target,amount,ref\n"
        + "".join(f"AIR-DEMO-10,,,shop-{i}\n" for i in range(5))
        + "NO-SUCH,,,bad\n"
    )
    sealed = tmp_path / "dealer.csv"
    env = {"EVD_API_KEY": DEMO_API_KEY}
    evd(config, "bulk", "seal", str(plain), "--file-id", "DLR-LIVE-1", "-o", str(sealed))
    out = evd(config, "bulk", "submit", str(sealed), "--url", base, "--poll", "0.1", env=env)
    assert "batch 1: file DLR-LIVE-1, 6 rows" in out
    assert "done: 5 sold, 1 failed, 0 pending" in out
    results = list(csv.DictReader(io.StringIO(Path(f"{sealed}.results.csv").read_text())))
    assert [r["state"] for r in results] == ["sold"] * 5 + ["failed"]
    assert len({r["pin"] for r in results[:5]}) == 5
    again = evd(config, "bulk", "submit", str(sealed), "--url", base, env=env)
    assert "the same file again" in again and "done: 5 sold" in again
    status = evd(config, "bulk", "status", "1", "--url", base, env=env)
    assert "5 sold" in status
