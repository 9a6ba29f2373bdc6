"""Runs selected cases against one server: reads its WSDL once (``URL?wsdl``) to learn the
advertised operations, then each case in catalogue order with its own session (fresh
msgIDs, its time budget), and records PASS / FAIL / SKIP with the reason.

* PASS: every check of the case held (its note says what was seen);
* FAIL: a check failed, or the server did not answer in time (the reason says which);
* SKIP: the case cannot run here: the WSDL does not advertise an operation it needs, or the
  profile lacks what it needs (a test meter role, a second client, a client certificate).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from tools.conformance.catalogue import Case
from tools.conformance.checks import CheckFailed
from tools.conformance.profile import Profile
from tools.conformance.session import LogEntry, MsgIdSource, Session, Skip
from tools.conformance.transport import HttpClient
from tools.conformance.wsdl import WsdlInfo, fetch_wsdl
from vending.clock import system_clock

Status = Literal["PASS", "FAIL", "SKIP"]


@dataclass(frozen=True)
class CaseResult:
    case: Case
    status: Status
    reason: str
    elapsed: float
    log: tuple[LogEntry, ...] = ()


@dataclass
class RunResult:
    url: str
    started: datetime
    wsdl: WsdlInfo
    results: list[CaseResult] = field(default_factory=list)
    elapsed: float = 0.0

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def passed(self) -> bool:
        """Every selected case passed or was skipped (exit status 0)."""
        return self.count("FAIL") == 0


def run_case(case: Case, session: Session) -> CaseResult:
    started = time.monotonic()
    try:
        session.needs(*case.needs)
        note = case.run(session)
        status: Status = "PASS"
        reason = note or ""
    except Skip as exc:
        status, reason = "SKIP", str(exc)
    except CheckFailed as exc:
        status, reason = "FAIL", exc.reason
    except Exception as exc:  # a bug in the kit must show, not abort the run
        status = "FAIL"
        reason = f"kit error {type(exc).__name__}: {exc}"
        session.log.append(LogEntry("kit error", b"", None, traceback.format_exc().encode()))
    return CaseResult(case, status, reason, time.monotonic() - started, tuple(session.log))


def run(
    profile: Profile,
    cases: Sequence[Case],
    *,
    on_result: Callable[[CaseResult], None] | None = None,
    msg_ids: MsgIdSource | None = None,
) -> RunResult:
    http = HttpClient(profile.url, profile.timeout, profile.tls)
    msg_ids = msg_ids or MsgIdSource()
    started = time.monotonic()
    result = RunResult(profile.url, system_clock(), fetch_wsdl(http, profile.timeout))
    for case in cases:
        session = Session(profile, http, msg_ids, result.wsdl, budget=case.budget)
        outcome = run_case(case, session)
        result.results.append(outcome)
        if on_result is not None:
            on_result(outcome)
    result.elapsed = time.monotonic() - started
    return result
