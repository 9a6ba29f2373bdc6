"""``make screenshots``: every main screen of the admin suite as a PNG under
``docs/screenshots/`` (shown in docs/ADMIN.md).

Starts ``evd serve`` on a fresh demo project in a temporary directory (``evd db upgrade``,
``evd demo``), signs in with the demo users (the TOTP code computed with pyotp at that
moment: the server runs on the real clock), prepares a little state (a pending four-eyes
approval) and photographs each entry of :data:`SCREENS` with the system Chromium (Debian's
``chromium``, through Playwright; never ``playwright install``).

Extensible: add a :class:`Shot` to :data:`SCREENS` (or a function to :data:`PREPARE`) for a
new screen. ``python -m tools.admin_screenshots --only users,network`` takes a few.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp

from staff.demo import DEMO_ADMIN, DEMO_DEALER

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
EVD = [sys.executable, "-m", "vending.cli.main"]
LISTENING = re.compile(r"listening on (https?://\S+)/xmlvend")
USERS = {"admin": DEMO_ADMIN, "dealer": DEMO_DEALER}


@dataclass(frozen=True)
class Shot:
    """One screenshot: ``name``.png of ``path`` (under /admin) as ``user`` (None: signed
    out); ``full_page``: the whole page, not only the first screen."""

    name: str
    path: str
    user: str | None = "admin"
    full_page: bool = True


SCREENS: list[Shot] = [
    Shot("login", "/login", user=None),
    Shot("enrol", "/login/enrol", user="new.user"),
    Shot("start", "/"),
    Shot("approvals", "/approvals"),
    Shot("users", "/users"),
    Shot("user", "/users/1"),
    Shot("logins", "/logins"),
    Shot("audit", "/audit"),
    Shot("network", "/network"),
    Shot("node-dealer", "/network/DEALER-A"),
    Shot("node-merchant", "/network/SHOP-CAFE"),
    Shot("products", "/products"),
    Shot("tariffs", "/tariffs"),
    Shot("meters", "/meters"),
    Shot("stock", "/stock"),
    Shot("stock-upload", "/stock/upload"),
    Shot("suppliers", "/suppliers"),
    Shot("account", "/account"),
    # The operational screens (admin-ops).
    Shot("dashboard", "/dashboard"),
    Shot("transactions", "/transactions"),
    Shot("transaction", "/transactions/1"),
    Shot("deposits", "/deposits"),
    Shot("fund-requests", "/fund-requests"),
    Shot("faults", "/faults"),
    Shot("activity", "/activity"),
    Shot("reports", "/reports"),
    Shot("points", "/points"),
    Shot("dealer-transactions", "/transactions", user="dealer"),
    Shot("dealer-network", "/network", user="dealer"),
    Shot("dealer-forbidden", "/network/SHOP-KIOSK", user="dealer", full_page=False),
]


def _pending_credit(page: Any, base: str) -> None:
    """A credit above the four-eyes threshold, so the approvals screen has something."""
    page.goto(f"{base}/network/DEALER-B")
    form = "form[action$='/credit']"
    page.fill(f"{form} [name=amount]", "5000.00")
    page.fill(f"{form} [name=reason]", "season stock")
    page.click(f"{form} button[type=submit]")
    page.wait_for_load_state()


def _sales(page: Any, base: str) -> None:
    """A few real sales through XMLVend (``evd client vend``), and a reversal asked for
    (a four-eyes approval), so the transaction and dashboard screens have something."""
    xmlvend = base.rsplit("/admin", 1)[0] + "/xmlvend"
    for product, amount in (("AIR-DEMO-10", "10.00"), ("AIR-DEMO-30", "30.00"),
                            ("AIR-DEMO-10", "10.00")):  # fmt: skip
        subprocess.run([*EVD, "client", "vend", "--url", xmlvend, "--product", product,
                        "--amount", amount], check=True, capture_output=True, cwd=ROOT)  # fmt: skip
    page.goto(f"{base}/transactions/1")
    page.fill("#f-reason", "customer says the PIN was never printed")
    page.click("#reverse")
    page.wait_for_load_state()


# One-time passwords of users made by PREPARE (user name -> password).
MADE: dict[str, str] = {}


def _new_user(page: Any, base: str) -> None:
    """A new support user, to photograph the first sign-in (two-factor enrolment)."""
    page.goto(f"{base}/users")
    page.fill("#f-username", "new.user")
    page.fill("#f-display_name", "New Support User")
    page.select_option("#f-role", "support")
    page.click("form[action$='/users'] button[type=submit]")
    MADE["new.user"] = page.inner_text("#one-time-password").strip()


# Run once, signed in as the demo administrator, before the screenshots.
PREPARE: list[Callable[[Any, str], None]] = [_pending_credit, _new_user, _sales]


def _drain(stream: Any, lines: list[str]) -> None:
    for line in stream:
        lines.append(line)


def _project(directory: Path) -> Path:
    (directory / "conf").mkdir(parents=True)
    config = directory / "conf" / "evd.toml"
    config.write_text(
        '[database]\nurl = "sqlite:///var/evd.db"\n\n[server]\nhost = "127.0.0.1"\nport = 0\n\n'
        '[security]\nscrypt_log_n = 12\n\n[vouchers]\ngnupg_home = "var/gnupg"\n'
    )
    for command in (["db", "upgrade"], ["demo"]):
        subprocess.run(
            [*EVD, "--config", str(config), *command],
            check=True,
            cwd=directory,
            capture_output=True,
        )
    return config


def _serve(config: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [*EVD, "--config", str(config), "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=config.parent.parent,
    )
    lines: list[str] = []
    threading.Thread(target=_drain, args=(process.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for line in list(lines):
            found = LISTENING.search(line)
            if found:
                return process, found.group(1) + "/admin"
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise SystemExit("evd serve did not start:\n" + "".join(lines))


def sign_in(page: Any, base: str, user: str) -> None:
    if user in MADE:  # a new user: the password step only (then the enrolment page)
        page.goto(f"{base}/login")
        page.fill("#f-username", user)
        page.fill("#f-password", MADE[user])
        page.click("main button[type=submit]")
        page.wait_for_url(f"{base}/login/enrol")
        return
    username, password, secret = USERS[user]
    page.goto(f"{base}/login")
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/login/code")
    page.fill("#f-code", pyotp.TOTP(secret).now())
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")


def chromium() -> str:
    for candidate in (
        os.environ.get("CHROMIUM", ""),
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
    ):
        if candidate and Path(candidate).exists():
            return candidate
    found = shutil.which("chromium")
    if not found:
        raise SystemExit("chromium is not installed (make sysdeps)")
    return found


def take(shots: list[Shot], out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="evd-shots-") as tmp:
        config = _project(Path(tmp))
        process, base = _serve(config)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium(),
                    headless=True,
                    args=["--no-sandbox", "--disable-dev-shm-usage"],
                )
                pages: dict[str | None, Any] = {}

                def page_for(user: str | None) -> Any:
                    if user not in pages:
                        context = browser.new_context(viewport={"width": 1366, "height": 900})
                        page = context.new_page()
                        page.set_default_timeout(20_000)
                        if user is not None:
                            sign_in(page, base, user)
                            if user == "admin":
                                for prepare in PREPARE:
                                    prepare(page, base)
                        pages[user] = page
                    return pages[user]

                page_for("admin")  # signs in and prepares the state first
                for shot in shots:
                    page = page_for(shot.user)
                    page.goto(base + shot.path)
                    path = out / f"{shot.name}.png"
                    page.screenshot(path=str(path), full_page=shot.full_page)
                    written.append(path)
                    print(f"{path.relative_to(ROOT)}  ({shot.path} as {shot.user or 'nobody'})")
                browser.close()
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated shot names")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    shots = SCREENS
    if args.only:
        wanted = set(args.only.split(","))
        shots = [s for s in SCREENS if s.name in wanted]
    take(shots, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
