"""Configuration: a TOML file (read with ``tomllib``) over built-in defaults, then environment
overrides. Every section is a frozen dataclass; loading checks types and ranges and names the
offending key on any error, so a bad file stops start-up with a useful message.

Precedence (later wins): built-in defaults < ``--config FILE`` (or ``$EVD_CONFIG``) <
environment. Environment overrides: ``EVD_DATABASE_URL``, ``EVD_MASTER_KEY`` and, generally,
``EVD__<SECTION>__<KEY>=value`` (value parsed as TOML when it parses, else taken as a string),
e.g. ``EVD__SERVER__PORT=9000``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """Invalid configuration; the message names the key (``section.key``)."""


def _check(condition: bool, key: str, message: str) -> None:
    if not condition:
        raise ConfigError(f"{key}: {message}")


@dataclass(frozen=True)
class DatabaseConfig:
    # SQLite (embedded default, single server process) or postgresql://user@host/db.
    url: str = "sqlite:///var/evd.db"
    # Size of the dedicated DB thread pool, which is also the connection pool size.
    pool_size: int = 8
    # SQLite durability: FULL survives power loss; NORMAL only survives a process crash.
    sqlite_synchronous: str = "FULL"
    # Seconds a SQLite writer waits for the write lock before giving up.
    sqlite_busy_timeout: float = 10.0
    # Attempts of a whole transaction function on serialization failure/deadlock.
    max_attempts: int = 5
    # PostgreSQL: the sale batch's statements are prepared once per connection. Turn off
    # behind a connection pooler in transaction mode (PgBouncer pool_mode = transaction),
    # where a client's transactions may run on other server connections than the one that
    # prepared them.
    prepare_statements: bool = True
    echo: bool = False

    def validate(self, key: str) -> None:
        _check("://" in self.url, f"{key}.url", f"not a database URL: {self.url!r}")
        scheme = self.url.split("://", 1)[0].split("+", 1)[0]
        _check(
            scheme in ("sqlite", "postgresql", "postgres"),
            f"{key}.url",
            f"unsupported database {scheme!r} (use sqlite or postgresql)",
        )
        _check(1 <= self.pool_size <= 256, f"{key}.pool_size", "must be 1..256")
        _check(
            self.sqlite_synchronous in ("FULL", "NORMAL", "EXTRA"),
            f"{key}.sqlite_synchronous",
            "must be FULL, NORMAL or EXTRA",
        )
        _check(1 <= self.max_attempts <= 20, f"{key}.max_attempts", "must be 1..20")


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    # Processes sharing the port with SO_REUSEPORT (PostgreSQL only; SQLite is one process).
    workers: int = 1
    # With several workers: seconds between the snapshots each writes of its metrics, for
    # whichever worker answers GET /metrics to report the sum over all of them.
    metrics_snapshot_seconds: float = 1.0
    # Every request is answered within this many seconds (must stay under 10).
    deadline_seconds: float = 8.0
    # Largest accepted request body, after gzip decompression too (413 beyond it).
    max_body_bytes: int = 256 * 1024
    # Idle connections and slow request bodies are cut after this many seconds.
    read_timeout_seconds: float = 30.0
    # Threads that parse and validate request bodies, off the reactor thread.
    parse_threads: int = 2
    # A request waits at most this long for a free parse thread, else SystemEx "busy"
    # (unread, nothing changed). Counts against deadline_seconds.
    parse_wait_seconds: float = 1.0
    # Request bodies up to this many bytes (after gzip decompression) are parsed on the
    # reactor thread: the pool's thread hop costs more CPU than parsing a typical request
    # (~1 KiB, ~65 us). Larger bodies keep the pool. 0 = every body on the pool. The bound
    # keeps the worst inline parse ~0.55 ms (about 140 us per KiB; docs/PERFORMANCE.md).
    inline_parse_max_bytes: int = 4096
    # Our serverID in every response: an EAN-13 (EANDeviceID) or a generic id.
    server_id: str = "6004708000007"
    # Endpoint address advertised in the served WSDL; empty = derived from the request.
    public_url: str = ""
    # Number of previous transactions a reprintReq returns.
    reprint_count: int = 5
    # Number of ledger lines a vendorStatementReq returns.
    statement_lines: int = 10
    # When true, every request needs authCred with a valid operator name and password.
    require_operator_auth: bool = True
    # Utility shown on receipts (b:UtilityDetail name/address/taxRef).
    utility_name: str = "Demo Municipality"
    utility_address: str = "1 Main Road, Demo Town"
    utility_tax_ref: str = "4000000000"

    def validate(self, key: str) -> None:
        _check(0 <= self.port <= 65535, f"{key}.port", "must be 0..65535")
        _check(1 <= self.workers <= 64, f"{key}.workers", "must be 1..64")
        _check(
            0 < self.metrics_snapshot_seconds <= 60,
            f"{key}.metrics_snapshot_seconds",
            "must be above 0 and at most 60 seconds",
        )
        _check(
            0 < self.deadline_seconds < 10,
            f"{key}.deadline_seconds",
            f"must be above 0 and below 10 seconds (got {self.deadline_seconds})",
        )
        _check(
            1024 <= self.max_body_bytes <= 64 * 1024 * 1024,
            f"{key}.max_body_bytes",
            "must be 1 KiB..64 MiB",
        )
        _check(self.read_timeout_seconds > 0, f"{key}.read_timeout_seconds", "must be > 0")
        _check(1 <= self.parse_threads <= 32, f"{key}.parse_threads", "must be 1..32")
        _check(
            0 < self.parse_wait_seconds < self.deadline_seconds,
            f"{key}.parse_wait_seconds",
            "must be above 0 and below deadline_seconds",
        )
        _check(
            0 <= self.inline_parse_max_bytes <= 16 * 1024,
            f"{key}.inline_parse_max_bytes",
            "must be 0..16384 (larger bodies could hold the reactor thread for milliseconds)",
        )
        _check(bool(self.server_id.strip()), f"{key}.server_id", "must not be empty")
        _check(1 <= self.reprint_count <= 100, f"{key}.reprint_count", "must be 1..100")
        _check(1 <= self.statement_lines <= 500, f"{key}.statement_lines", "must be 1..500")


@dataclass(frozen=True)
class TLSConfig:
    enabled: bool = False
    cert: str = ""
    key: str = ""
    # CA bundle for client certificates; when set, clients must present a certificate.
    client_ca: str = ""
    # Certificate subject field that must carry the request's clientID.
    client_id_field: str = "CN"

    def validate(self, key: str) -> None:
        if self.enabled:
            _check(bool(self.cert), f"{key}.cert", "required when tls.enabled is true")
            _check(bool(self.key), f"{key}.key", "required when tls.enabled is true")
        _check(
            self.client_id_field in ("CN", "serialNumber", "OU", "O", "UID", "emailAddress", "SAN"),
            f"{key}.client_id_field",
            "must be one of CN, serialNumber, OU, O, UID, emailAddress, SAN",
        )


@dataclass(frozen=True)
class CurrencyConfig:
    # Currency of amounts that arrive without a usable symbol.
    default: str = "ZAR"
    # Non-ISO symbols deployed clients send, mapped to ISO 4217 codes.
    aliases: Mapping[str, str] = field(
        default_factory=lambda: {"R": "ZAR", "ZAR": "ZAR", "AZM": "AZN", "KSH": "KES"}
    )

    def validate(self, key: str) -> None:
        _check(
            re.fullmatch(r"[A-Z]{3}", self.default) is not None,
            f"{key}.default",
            "must be an ISO 4217 code",
        )
        for alias, code in self.aliases.items():
            _check(
                re.fullmatch(r"[A-Z]{3}", code) is not None,
                f"{key}.aliases.{alias}",
                f"must map to an ISO 4217 code (got {code!r})",
            )


@dataclass(frozen=True)
class SecurityConfig:
    # Master key (base64 of 32 bytes) that wraps the data keys protecting vending keys and
    # voucher PINs. Prefer EVD_MASTER_KEY or master_key_file; never commit a key.
    master_key: str = ""
    master_key_file: str = "var/master.key"
    # scrypt cost for operator passwords (N = 2**scrypt_log_n).
    scrypt_log_n: int = 14
    # Seconds a verified (operator, password) pair stays cached in memory.
    auth_cache_seconds: float = 300.0
    # Failed-login throttling (shared by all workers through the database): this many
    # failures of one operator, or from one client address, within the window lock that
    # operator or address for login_lockout_seconds.
    login_max_failures_per_operator: int = 10
    login_max_failures_per_address: int = 20
    login_failure_window_seconds: float = 900.0
    login_lockout_seconds: float = 300.0
    # A locked login is answered after this many seconds (a timer, no thread): a client
    # hammering a lock waits instead of getting refusals as fast as it can send.
    login_throttled_delay_seconds: float = 1.0
    # Threads that hash passwords (never the database pool), and how many password checks
    # may wait for them before further logins are refused at once.
    hash_threads: int = 2
    hash_queue: int = 32

    def validate(self, key: str) -> None:
        _check(10 <= self.scrypt_log_n <= 20, f"{key}.scrypt_log_n", "must be 10..20")
        _check(self.auth_cache_seconds >= 0, f"{key}.auth_cache_seconds", "must be >= 0")
        for name in ("login_max_failures_per_operator", "login_max_failures_per_address"):
            _check(getattr(self, name) >= 1, f"{key}.{name}", "must be >= 1")
        _check(
            self.login_failure_window_seconds > 0,
            f"{key}.login_failure_window_seconds",
            "must be > 0",
        )
        _check(self.login_lockout_seconds > 0, f"{key}.login_lockout_seconds", "must be > 0")
        _check(
            0 <= self.login_throttled_delay_seconds <= 5,
            f"{key}.login_throttled_delay_seconds",
            "must be 0..5 seconds (below the request deadline)",
        )
        _check(1 <= self.hash_threads <= 64, f"{key}.hash_threads", "must be 1..64")
        _check(1 <= self.hash_queue <= 10_000, f"{key}.hash_queue", "must be 1..10000")


@dataclass(frozen=True)
class UpstreamRoute:
    """Route meters of one supply group (or all, with sgc = "*") to a utility's server."""

    sgc: str = "*"
    # Name in logs and in the upstream_vends table (default: the SGC).
    name: str = ""
    url: str = ""
    client_id: str = ""
    terminal_id: str = "1"
    op_name: str = ""
    password: str = ""
    # Seconds to wait for the utility before recovering with a last-response advice.
    timeout_seconds: float = 5.0
    cert: str = ""
    key: str = ""
    ca: str = ""
    # Gzip our request bodies (responses are always accepted gzipped).
    gzip_request: bool = False

    @property
    def route_name(self) -> str:
        return self.name or self.sgc

    def validate(self, key: str) -> None:
        _check(
            self.sgc == "*" or re.fullmatch(r"\d{6}", self.sgc) is not None,
            f"{key}.sgc",
            'must be a 6-digit supply group code or "*"',
        )
        _check(self.url.startswith(("http://", "https://")), f"{key}.url", "must be http(s)")
        _check(0 < self.timeout_seconds < 10, f"{key}.timeout_seconds", "must be 0..10")


@dataclass(frozen=True)
class UtilitiesConfig:
    # "embedded" (our STS engine and meter registry) unless a route below matches.
    default_backend: str = "embedded"
    routes: tuple[UpstreamRoute, ...] = ()
    # Embedded engine: issue key change tokens inside a vend when the meter's key revision
    # is out of date (false: refuse with LatestKRNEx until updateMeterKey is done).
    auto_key_change: bool = True
    # Issue the month's free basic electricity with the first sale of the month.
    fbe_with_sale: bool = True
    # Calendar months (FBE, service charges, block tariffs) are counted in this time zone.
    timezone: str = "UTC"
    # 0.1 kWh units of a free issue token and of a default credit (engineering) token.
    free_issue_units: int = 100
    default_credit_units: int = 100
    # Manufacturer code on class 1 test/display tokens (2 or 4 digits).
    manufacturer_code: str = "00"
    # Electricity product sold for meters (price range, commission, utility account).
    product_code: str = "ELEC-DEMO"
    # Honour the demo/simulator test behaviours of meters (slow, upstream failure): only in
    # the demo configuration (conf/demo.toml, used by `make run`); never in production.
    test_behaviours: bool = False
    # Upstream recovery: how often pending vends are looked at, the longest pause between
    # last-response advices, and when to give up (refund, reversal advice to the utility).
    recovery_poll_seconds: float = 2.0
    recovery_max_delay_seconds: float = 60.0
    recovery_give_up_seconds: float = 86400.0

    def validate(self, key: str) -> None:
        _check(
            self.default_backend in ("embedded", "upstream"),
            f"{key}.default_backend",
            "must be embedded or upstream",
        )
        names = set()
        for index, route in enumerate(self.routes):
            route.validate(f"{key}.routes[{index}]")
            _check(
                route.route_name not in names,
                f"{key}.routes[{index}]",
                f"duplicate route {route.route_name!r}",
            )
            names.add(route.route_name)
        _check(
            self.default_backend == "embedded" or any(r.sgc == "*" for r in self.routes),
            f"{key}.default_backend",
            'upstream needs a route with sgc = "*"',
        )
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(self.timezone)
        except Exception:
            raise ConfigError(f"{key}.timezone: unknown time zone {self.timezone!r}") from None
        _check(
            re.fullmatch(r"\d{2}|\d{4}", self.manufacturer_code) is not None,
            f"{key}.manufacturer_code",
            "must be 2 or 4 digits",
        )
        _check(self.free_issue_units >= 0, f"{key}.free_issue_units", "must be >= 0")
        _check(self.default_credit_units > 0, f"{key}.default_credit_units", "must be > 0")
        _check(self.recovery_poll_seconds > 0, f"{key}.recovery_poll_seconds", "must be > 0")
        _check(
            self.recovery_max_delay_seconds > 0, f"{key}.recovery_max_delay_seconds", "must be > 0"
        )
        _check(self.recovery_give_up_seconds > 0, f"{key}.recovery_give_up_seconds", "must be > 0")


@dataclass(frozen=True)
class VouchersConfig:
    # GnuPG home holding the operator's decryption key (never the user's own keyring).
    gnupg_home: str = "var/gnupg"
    # Default low-stock alert threshold (vouchers left) for products without their own.
    low_stock_threshold: int = 50
    # Days ahead the expiring-soon report looks.
    expiring_days: int = 30
    # Stock files uploaded in the admin suite wait here (still encrypted) for approval;
    # larger files than upload_max_bytes are imported with `evd stock import` (the server's
    # max_body_bytes bounds uploads too).
    upload_dir: str = "var/stock-uploads"
    upload_max_bytes: int = 192 * 1024

    def validate(self, key: str) -> None:
        _check(self.low_stock_threshold >= 0, f"{key}.low_stock_threshold", "must be >= 0")
        _check(self.upload_max_bytes >= 1024, f"{key}.upload_max_bytes", "must be >= 1024")
        _check(self.expiring_days >= 0, f"{key}.expiring_days", "must be >= 0")


@dataclass(frozen=True)
class SalesConfig:
    # A sale may be reversed (reversal advice, refund) only this many seconds after it was
    # made. PIN vouchers also only while unconfirmed and never reprinted; electricity keeps
    # the standard's rule (a completed sale) within the same window (vending.services).
    reversal_window_seconds: float = 300.0
    # A request still unanswered this long after it arrived, that no backend owns (an
    # upstream vend), was abandoned by a stopped process: recovery answers it for good.
    # Must exceed the deadline plus the demo slow meter's delay.
    abandoned_after_seconds: float = 60.0
    # How often recovery looks for abandoned requests (and once at start).
    recovery_sweep_seconds: float = 10.0
    # PostgreSQL only: each worker batches concurrent voucher and embedded electricity
    # sales into one transaction (issue 16; xmlvend.transport.batching). A batch goes as
    # soon as the previous one committed, or after batch_max_wait_ms when idle, with at
    # most batch_max_sales sales; set-based statements (vending.sale_batch). On by default
    # (step 2, docs/PERFORMANCE.md); SQLite ignores it and keeps one transaction per sale.
    batching: bool = True
    batch_max_sales: int = 64
    batch_max_wait_ms: float = 1.0

    def validate(self, key: str) -> None:
        _check(
            0 <= self.reversal_window_seconds <= 7 * 86400,
            f"{key}.reversal_window_seconds",
            "must be 0..604800 seconds",
        )
        _check(
            20 <= self.abandoned_after_seconds <= 86400,
            f"{key}.abandoned_after_seconds",
            "must be 20..86400 seconds",
        )
        _check(
            0 < self.recovery_sweep_seconds <= 3600,
            f"{key}.recovery_sweep_seconds",
            "must be above 0 and at most 3600 seconds",
        )
        _check(1 <= self.batch_max_sales <= 1000, f"{key}.batch_max_sales", "must be 1..1000")
        _check(0 <= self.batch_max_wait_ms <= 100, f"{key}.batch_max_wait_ms", "must be 0..100 ms")


@dataclass(frozen=True)
class DepositsConfig:
    # Bank alert templates, SMS forwarders, matching window and fee tiers (TOML; see
    # conf/deposits.toml and docs/DEPOSITS.md). Empty: deposits from bank alerts are off.
    settings_file: str = ""
    # Intake run by `evd serve` (needs settings_file). Bank SMS: mount /sms/bank for
    # Kannel's sms-service (the registered forwarders only are trusted).
    sms_intake: bool = False
    # Bank e-mails: read this IMAP mailbox (empty host: off), every poll_seconds, and at
    # once when the server announces new mail while idling (IMAP IDLE, when offered).
    imap_host: str = ""
    imap_port: int = 993
    imap_ssl: bool = True
    imap_username: str = ""
    # The mailbox password (a secret: prefer EVD__DEPOSITS__IMAP_PASSWORD).
    imap_password: str = ""
    imap_folder: str = "INBOX"
    imap_poll_seconds: float = 60.0
    imap_idle: bool = True
    imap_timeout_seconds: float = 30.0

    def validate(self, key: str) -> None:
        _check(1 <= self.imap_port <= 65535, f"{key}.imap_port", "must be a port number 1..65535")
        _check(
            1 <= self.imap_poll_seconds <= 86400,
            f"{key}.imap_poll_seconds",
            "must be 1..86400 seconds",
        )
        _check(
            1 <= self.imap_timeout_seconds <= 600,
            f"{key}.imap_timeout_seconds",
            "must be 1..600 seconds",
        )
        _check(
            not ((self.sms_intake or self.imap_host) and not self.settings_file),
            f"{key}.settings_file",
            "the deposit intake (sms_intake, imap_host) needs the bank templates file",
        )


@dataclass(frozen=True)
class BulkConfig:
    # Bulk multi-recharge (docs/BULK.md): rows of one batch sold at a time (coroutines on
    # the reactor, not threads), and rows whose results are written in one transaction.
    concurrency: int = 16
    flush_rows: int = 50
    # Recharge rows whose holds (and settlements) share one transaction (1: one per row;
    # chunks lock the hot rows late and credit them once per chunk: docs/PERFORMANCE.md).
    chunk_rows: int = 20

    def validate(self, key: str) -> None:
        _check(1 <= self.concurrency <= 256, f"{key}.concurrency", "must be 1..256")
        _check(1 <= self.chunk_rows <= 200, f"{key}.chunk_rows", "must be 1..200")
        _check(1 <= self.flush_rows <= 1000, f"{key}.flush_rows", "must be 1..1000")


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "INFO"
    # One structured (JSON) line per request.
    json: bool = True

    def validate(self, key: str) -> None:
        _check(
            self.level in ("DEBUG", "INFO", "WARNING", "ERROR"),
            f"{key}.level",
            "must be DEBUG, INFO, WARNING or ERROR",
        )


@dataclass(frozen=True)
class SmsConfig:
    """The SMS and USSD channels (Kannel as the SMS gateway; see docs/SMS.md)."""

    # Off: ``evd serve`` mounts no /sms and sends nothing (the banner says how to turn it on).
    enabled: bool = False
    # Kannel smsbox's sendsms interface and its sendsms-user.
    sendsms_url: str = "http://127.0.0.1:13013/cgi-bin/sendsms"
    username: str = "evd"
    password: str = ""
    # Our short code: the sender of every MT.
    short_code: str = "12345"
    # Local numbers (0821234567) are read as this country's (27821234567).
    country_code: str = "27"
    # Where Kannel reaches us (delivery reports); empty: http://<server.host>:<server.port>.
    callback_base_url: str = ""
    # A shared token Kannel puts in the MO/DLR URLs (empty: not checked; set it in production).
    gateway_token: str = ""
    # Wrong SMS PINs in a row lock the number for this long.
    pin_lock_seconds: float = 1800.0
    # The MT deliverer's poll interval and the gateway's answer timeout.
    poll_seconds: float = 1.0
    timeout_seconds: float = 10.0
    # Group commit: small bookkeeping transactions (replay lookups, queuing replies,
    # delivery reports) arriving within this many seconds share one commit (0: off).
    batch_seconds: float = 0.005
    # USSD: the service code dialled, and how long a session may stay idle.
    ussd_service_code: str = "*120*55#"
    ussd_session_seconds: float = 180.0

    def validate(self, key: str) -> None:
        _check(self.pin_lock_seconds >= 0, f"{key}.pin_lock_seconds", "must be >= 0")
        _check(self.poll_seconds > 0, f"{key}.poll_seconds", "must be > 0")
        _check(self.timeout_seconds > 0, f"{key}.timeout_seconds", "must be > 0")
        _check(0 <= self.batch_seconds <= 1, f"{key}.batch_seconds", "must be 0..1")
        _check(self.ussd_session_seconds > 0, f"{key}.ussd_session_seconds", "must be > 0")


@dataclass(frozen=True)
class CardsConfig:
    """Card payments through the acquirer's ISO 8583 switch (see docs/CARDS.md)."""

    enabled: bool = False
    switch_host: str = "127.0.0.1"
    switch_port: int = 8583
    # DE 41 (8) and DE 42 (15) the acquirer gave us; DE 32 acquiring institution id.
    terminal_id: str = "EVD00001"
    merchant_id: str = "EVD000000000001"
    acquirer_id: str = "000001"
    # The vendor whose account card checkouts sell through (funded per approved payment).
    checkout_vendor: str = "6004708000106"
    checkout_operator: str = "platform"
    # No 0210 within this many seconds: reverse (0420, then 0421 until a 0430).
    response_timeout_seconds: float = 30.0
    reversal_retry_seconds: float = 10.0
    echo_seconds: float = 60.0

    def validate(self, key: str) -> None:
        _check(len(self.terminal_id) == 8, f"{key}.terminal_id", "must be 8 characters")
        _check(len(self.merchant_id) == 15, f"{key}.merchant_id", "must be 15 characters")
        _check(self.response_timeout_seconds > 0, f"{key}.response_timeout_seconds", "> 0")
        _check(self.reversal_retry_seconds > 0, f"{key}.reversal_retry_seconds", "> 0")


@dataclass(frozen=True)
class AdminConfig:
    """The admin web suite at /admin (docs/ADMIN.md)."""

    # A session ends after this long without a request, and this long after its login.
    session_idle_seconds: float = 900.0
    session_absolute_seconds: float = 28_800.0
    # Four-eyes: a staff money action above this many minor units waits for a second user's
    # approval; the kinds in four_eyes_always always do (e.g. "transaction.reverse").
    four_eyes_threshold: int = 100_000
    # Reversals and stock imports always do: neither is one person's decision.
    four_eyes_always: tuple[str, ...] = ("transaction.reverse", "stock.import")
    # The issuer shown in authenticator apps.
    totp_issuer: str = "EVD"
    # The session cookie's Secure flag. Browsers accept a Secure cookie over plain http from
    # loopback (a secure context), so it stays on in development; off only for a non-loopback
    # plain-http test rig.
    secure_cookies: bool = True

    def validate(self, key: str) -> None:
        _check(self.session_idle_seconds > 0, f"{key}.session_idle_seconds", "must be > 0")
        _check(
            self.session_absolute_seconds >= self.session_idle_seconds,
            f"{key}.session_absolute_seconds",
            "must be at least session_idle_seconds",
        )
        _check(self.four_eyes_threshold >= 0, f"{key}.four_eyes_threshold", "must be >= 0")


@dataclass(frozen=True)
class Config:
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    tls: TLSConfig = field(default_factory=TLSConfig)
    currency: CurrencyConfig = field(default_factory=CurrencyConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    utilities: UtilitiesConfig = field(default_factory=UtilitiesConfig)
    vouchers: VouchersConfig = field(default_factory=VouchersConfig)
    sales: SalesConfig = field(default_factory=SalesConfig)
    deposits: DepositsConfig = field(default_factory=DepositsConfig)
    bulk: BulkConfig = field(default_factory=BulkConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    sms: SmsConfig = field(default_factory=SmsConfig)
    cards: CardsConfig = field(default_factory=CardsConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)
    # Directory that relative paths in this config are resolved against.
    base_dir: str = "."

    def validate(self) -> None:
        for section in dataclasses.fields(self):
            value = getattr(self, section.name)
            if dataclasses.is_dataclass(value):
                value.validate(section.name)
        if self.database.url.startswith("sqlite") and self.server.workers != 1:
            raise ConfigError(
                "server.workers: SQLite supports a single server process; "
                "use PostgreSQL for several workers"
            )

    def path(self, value: str) -> Path:
        """Resolve a path from this config relative to ``base_dir``."""
        candidate = Path(value)
        return candidate if candidate.is_absolute() else Path(self.base_dir) / candidate

    def replace(self, **sections: Any) -> Config:
        return dataclasses.replace(self, **sections)


# --- loading ---------------------------------------------------------------------------------


def _convert(value: Any, annotation: Any, key: str) -> Any:
    """Convert a TOML value to ``annotation``, raising ConfigError naming ``key``."""
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a table, got {type(value).__name__}")
        return _build(annotation, value, key)
    if origin is tuple:
        (item_type, _ellipsis) = typing.get_args(annotation)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected an array, got {type(value).__name__}")
        return tuple(_convert(v, item_type, f"{key}[{i}]") for i, v in enumerate(value))
    if origin in (Mapping, dict) or annotation is Mapping:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a table, got {type(value).__name__}")
        _key_type, value_type = typing.get_args(annotation) or (str, Any)
        return {str(k): _convert(v, value_type, f"{key}.{k}") for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(annotation):
            try:
                return _convert(value, option, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0])
    if annotation is Any:
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported setting type {annotation!r}")  # pragma: no cover


def _build(cls: Any, data: Mapping[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        if name not in names:
            raise ConfigError(f"{key}: unknown setting (known: {', '.join(sorted(names))})")
        kwargs[name] = _convert(value, hints[name], key)
    return cls(**kwargs)


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for name, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(name), Mapping):
            merged[name] = _merge(dict(merged[name]), value)
        else:
            merged[name] = value
    return merged


def _setting(names: list[str]) -> tuple[list[str], Any]:
    """The config path named by an environment variable and its annotation (None if unknown).

    Setting names are lower case; keys inside a table setting (the currency aliases "R",
    "KSH") keep the case they were given in.
    """
    parts: list[str] = []
    annotation: Any = Config
    for name in names:
        if dataclasses.is_dataclass(annotation):
            part = name.lower()
            annotation = typing.get_type_hints(annotation).get(part)
        else:
            part, annotation = name, None
        parts.append(part)
    return parts, annotation


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if environ.get("EVD_DATABASE_URL"):
        overrides = _merge(overrides, {"database": {"url": environ["EVD_DATABASE_URL"]}})
    if environ.get("EVD_MASTER_KEY"):
        overrides = _merge(overrides, {"security": {"master_key": environ["EVD_MASTER_KEY"]}})
    for name, raw in environ.items():
        if not name.startswith("EVD__"):
            continue
        parts, annotation = _setting([p for p in name[len("EVD__") :].split("__") if p])
        if len(parts) < 2:
            raise ConfigError(f"{name}: expected EVD__<SECTION>__<KEY>")
        value: Any = raw
        # A string setting takes the text as it is: parsed as TOML, an all-digit server id
        # (an EAN-13, like the default) would become an integer and be refused.
        if annotation is not str:
            try:
                value = tomllib.loads(f"v = {raw}")["v"]
            except tomllib.TOMLDecodeError:
                value = raw
        nested: dict[str, Any] = {parts[-1]: value}
        for part in reversed(parts[:-1]):
            nested = {part: nested}
        overrides = _merge(overrides, nested)
    return overrides


def load_config(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Load configuration from ``path`` (or ``$EVD_CONFIG``) and the environment."""
    environ = os.environ if environ is None else environ
    path = path or environ.get("EVD_CONFIG") or None
    data: dict[str, Any] = {}
    base_dir = "."
    if path is not None:
        config_path = Path(path)
        try:
            raw = config_path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read config file {str(config_path)!r}: {exc}") from exc
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{config_path}: not valid TOML: {exc}") from exc
        # Relative paths in a file under conf/ are relative to the project directory.
        parent = config_path.resolve().parent
        base_dir = str(parent.parent if parent.name == "conf" else parent)
    data = _merge(data, _env_overrides(environ))
    data.setdefault("base_dir", base_dir)
    config = _build(Config, data, "")
    config.validate()
    return config


def defaults() -> Config:
    return Config()
