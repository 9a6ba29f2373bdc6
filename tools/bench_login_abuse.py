"""Benchmark: logged-in vends while 48 clients send wrong passwords (issue 10 §4).

    .venv/bin/python -m tools.bench_login_abuse [--seconds 8] [--slice 2] [--rate 30]
        [--attackers 48]
        [--workers 2] [--attack-from 127.0.0.2] [--no-throttle] [--url postgresql://...]

It creates its own PostgreSQL database (like ``tools.bench``), seeds it with scrypt at the
production cost (2**14), starts ``evd serve --workers N`` on loopback and runs electricity
creditVends of logged-in vendors at a fixed rate (open loop: latency counts from each
vend's due time), in slices of ``--slice`` seconds alternately alone and beside
``--attackers`` connections that each send creditVends with a fresh wrong password for
another vendor's operator as soon as the last is answered, from another loopback address
(``--attack-from``: the per-address throttle sees the attacker, not the vendors); the
alternation makes whatever else the machine does weigh on both sides alike. It prints the
vends' p50/p99 both ways (``--seconds`` each), the ratio p99 under attack / p99 alone
(target <= 2), and how the attack was answered.

``--no-throttle`` raises the failure limits out of reach, so only the password-hashing pool
stands between the attack and the vends; ``--server-code DIR`` runs another checkout's server
(before/after comparisons; with ``--server-schema`` naming that checkout's migration head).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shlex
import sys
import time
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal

from tools.benchkit.loadgen import MsgIds, Result, open_loop, vend_templates
from tools.benchkit.seed import DEFAULT_URL, bench_database, seed
from tools.benchkit.server import ServerProcess
from tools.conformance import builders
from tools.conformance.profile import Credentials
from vending.demo import DEMO_VENDORS
from xmlvend.codec import render_request
from xmlvend.codec.types_base import MsgID

UNLIMITED = 1_000_000
# Placeholders of the attack request: replaced by same-length values.
_PASSWORD = "guessXXXXXXXX"
_UNIQUE = "999999"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench_login_abuse", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("EVD_BENCH_POSTGRES_URL", DEFAULT_URL),
        help="PostgreSQL server (a database is created and dropped there)",
    )
    parser.add_argument(
        "--seconds", type=float, default=8.0, help="measured seconds without, and with, attack"
    )
    parser.add_argument(
        "--slice", type=float, default=2.0, help="seconds of each alternating slice"
    )
    parser.add_argument("--warmup", type=float, default=0.5, help="unmeasured, before a slice")
    parser.add_argument("--rate", type=float, default=30.0, help="logged-in vends per second")
    parser.add_argument("--connections", type=int, default=8, help="logged-in clients")
    parser.add_argument("--attackers", type=int, default=48, help="wrong-password clients")
    parser.add_argument(
        "--attack-from", default="127.0.0.2", help="source address of the attack (loopback)"
    )
    parser.add_argument("--workers", type=int, default=2, help="evd serve --workers")
    parser.add_argument("--pool-size", type=int, default=8, help="database.pool_size per worker")
    parser.add_argument("--vendors", type=int, default=8, help="logged-in bench vendors")
    parser.add_argument("--meters", type=int, default=32, help="bench STA meters")
    parser.add_argument(
        "--no-throttle",
        action="store_true",
        help="failure limits out of reach: only the hashing pool protects the vends",
    )
    parser.add_argument("--server-code", metavar="DIR", help="run another checkout's server")
    parser.add_argument(
        "--server-schema",
        metavar="REVISION",
        help="downgrade the bench database to this revision first (the head of --server-code, "
        "e.g. 0006_vendor_batches for the code before the login throttle)",
    )
    return parser.parse_args(argv)


class Attack:
    """``attackers`` keep-alive connections sending wrong passwords back to back."""

    def __init__(self, host: str, port: int, source: str, attackers: int) -> None:
        self.host, self.port, self.source, self.attackers = host, port, source, attackers
        self.answers: Counter[str] = Counter()
        self.sent = 0
        self.other_sample: bytes | None = None
        self._running = True
        self._numbers = itertools.count(1)
        victim = DEMO_VENDORS[0]
        self._victim = (victim.client_id, victim.operator)
        self._head, self._body = self._template()

    def _template(self) -> tuple[bytes, bytes]:
        """The attack request rendered once, split at its placeholders (like the load
        generator: the attack must not spend the machine's CPU on the client side)."""
        client = Credentials(self._victim[0], "1", self._victim[1], _PASSWORD)
        header = builders.request_header(
            client, MsgID(date_time=time.strftime("%Y%m%d%H%M%S"), unique_number=_UNIQUE)
        )
        body = render_request(builders.credit_vend(header, "05000000001", Decimal("20.00"), "ZAR"))
        head = (
            f"POST /xmlvend HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: text/xml; charset=utf-8\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode(), body

    def _request(self) -> bytes:
        n = next(self._numbers)
        body = self._body.replace(_PASSWORD.encode(), b"guess%08d" % n).replace(
            f'uniqueNumber="{_UNIQUE}"'.encode(), b'uniqueNumber="%06d"' % (n % 1_000_000)
        )
        return self._head + body

    async def _one(self) -> None:
        reader, writer = await asyncio.open_connection(
            self.host, self.port, local_addr=(self.source, 0)
        )
        try:
            while self._running:
                await self.active.wait()
                writer.write(self._request())
                self.sent += 1
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                kind = _kind(body)
                self.answers[kind] += 1
                if kind == "other" and self.other_sample is None:
                    self.other_sample = body[:600]
        except (ConnectionError, asyncio.IncompleteReadError):
            self.answers["connection lost"] += 1
        finally:
            writer.close()

    def start(self) -> None:
        self.active = asyncio.Event()
        self._tasks = [asyncio.create_task(self._one()) for _ in range(self.attackers)]

    async def stop(self) -> None:
        self._running = False
        self.active.set()
        await asyncio.wait(self._tasks, timeout=15)


def _kind(body: bytes) -> str:
    if b"too many failed logins" in body:
        return "throttled (retry-after)"
    if b"too many logins are being checked" in body:
        return "refused: hashing queue full"
    if b"wrong password" in body:
        return "wrong password (hashed)"
    if b"RequestAuthorisationEx" in body:
        return "RequestAuthorisationEx (other)"
    return "other"


def _line(label: str, result: Result) -> str:
    errors = f", {result.error_total()} errors {result.errors}" if result.error_total() else ""
    return (
        f"{label:<24} p50 {result.percentile(50):7.2f} ms  p99 {result.percentile(99):7.2f} ms"
        f"  ({result.ok} vends in {result.seconds:.1f} s{errors})"
    )


def _merge(into: Result, part: Result) -> None:
    into.seconds += part.seconds
    into.latencies.extend(part.latencies)
    for key, count in part.errors.items():
        into.errors[key] = into.errors.get(key, 0) + count


async def _measure(args: argparse.Namespace, server: ServerProcess, templates: list) -> float:
    """Slices of ``--slice`` seconds, alternately without and with the attack, so that
    whatever else the machine does meanwhile weighs on both sides alike."""
    msg_ids = MsgIds()
    alone, attacked = Result(), Result()
    # Every vendor logs in (scrypt once per worker) before anything is measured.
    await open_loop(
        server.host,
        server.port,
        templates,
        msg_ids,
        rate=args.rate,
        connections=args.connections,
        seconds=0.1,
        warmup=3.0,
    )
    attack = Attack(server.host, server.port, args.attack_from, args.attackers)
    attack.start()
    started = time.perf_counter()
    attack_seconds = 0.0
    slices = max(1, round(args.seconds / args.slice))
    try:
        for index in range(2 * slices):
            under_attack = index % 2 == 1
            if under_attack:
                attack.active.set()
            else:
                attack.active.clear()
            mark = time.perf_counter()
            part = await open_loop(
                server.host,
                server.port,
                templates,
                msg_ids,
                rate=args.rate,
                connections=args.connections,
                seconds=args.slice,
                warmup=args.warmup,
            )
            if under_attack:
                attack_seconds += time.perf_counter() - mark
            _merge(attacked if under_attack else alone, part)
    finally:
        await attack.stop()
    elapsed = time.perf_counter() - started
    print(_line("vends alone", alone), flush=True)
    print(_line(f"vends beside {args.attackers} attackers", attacked), flush=True)
    answered = sum(attack.answers.values())
    print(
        f"{'attack':<24} {answered} answers in {attack_seconds:.1f} s of attack "
        f"({elapsed:.1f} s run): "
        + ", ".join(f"{kind} {count}" for kind, count in attack.answers.most_common()),
        flush=True,
    )
    if attack.other_sample is not None:
        print(f"{'':<24} e.g. {attack.other_sample!r}", flush=True)
    ratio = attacked.percentile(99) / alone.percentile(99)
    # Vends never sent (the server fell behind the rate) count against the attack only
    # when there are more of them than without it.
    worse = attacked.error_total() > alone.error_total()
    verdict = "ok" if ratio <= 2 and not worse else "ABOVE TARGET"
    print(f"p99 under attack / p99 alone: {ratio:.2f} (target <= 2: {verdict})", flush=True)
    return ratio


def _downgrade(url: str, revision: str) -> None:
    from vending.storage import migrate
    from vending.storage.database import Database

    database = Database(url, pool_size=1)
    try:
        migrate.downgrade(database.engine, revision)
    finally:
        database.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python -m tools.bench_login_abuse " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    print(f"command: {command}", flush=True)
    print(
        f"machine: {os.cpu_count()} CPUs; evd serve --workers {args.workers}, pool_size "
        f"{args.pool_size}; {args.rate:g} vends/s on {args.connections} connections; "
        f"{args.attackers} attackers from {args.attack_from}; throttle "
        f"{'off' if args.no_throttle else 'as configured by default'}",
        flush=True,
    )
    extra_env = {}
    if args.no_throttle:
        extra_env = {
            "EVD__SECURITY__LOGIN_MAX_FAILURES_PER_OPERATOR": str(UNLIMITED),
            "EVD__SECURITY__LOGIN_MAX_FAILURES_PER_ADDRESS": str(UNLIMITED),
        }
    with bench_database(args.url, prefix="evd_bench_login") as (url, _name):
        seeded = seed(url, vendors=args.vendors, meters=args.meters, vouchers=0)
        if args.server_schema:
            _downgrade(url, args.server_schema)
        server = ServerProcess(
            url,
            seeded.master_key,
            workers=args.workers,
            pool_size=args.pool_size,
            extra_env=extra_env,
            code_dir=args.server_code,
        )
        try:
            server.start()
            host = f"{server.host}:{server.port}"
            templates = vend_templates(seeded.vendors, seeded.meters, None, host=host)
            ratio = asyncio.run(_measure(args, server, templates["electricity"]))
        finally:
            server.cleanup()
    return 0 if ratio <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
