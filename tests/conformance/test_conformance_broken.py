"""Every check can fail: the kit against deliberately broken servers (our server behind a
proxy that breaks one rule, see conformance_proxy.py). Each defect makes the matching cases
FAIL with a reason naming the problem, and the exit status is 1; a transparent proxy
passes, so the failures are the defect's."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from conformance_defects import (
    CrashOnBrokenXml,
    FaultsAnsweredWith200,
    HidesCreditVend,
    LastResponseAlwaysMissing,
    NeedsSoapAction,
    NeverGzip,
    NoDuplicateDetection,
    ProcessesOversizedRequests,
    ReplayChangesToken,
    SlowVends,
    TrialSellsForReal,
    WsdlOfAnotherService,
    other_digit,
    replace_in_responses,
)
from conformance_proxy import Defect, broken_server
from conformance_servers import LiveServer

from tools.conformance.catalogue import select
from tools.conformance.profile import Profile
from tools.conformance.runner import RunResult, run


def run_through(
    server: LiveServer, defect: Defect, only: str, *, timeout: float = 9.0
) -> RunResult:
    with broken_server(server.url, defect) as url:
        return run(Profile(url=url, timeout=timeout), select(only.split(",")))


def verdicts(result: RunResult) -> dict[str, tuple[str, str]]:
    return {r.case.id: (r.status, r.reason) for r in result.results}


def assert_fails(result: RunResult, expected: dict[str, str]) -> None:
    """Each case of ``expected`` FAILs with a reason matching its pattern; the run fails."""
    found = verdicts(result)
    for case_id, pattern in expected.items():
        status, reason = found[case_id]
        assert status == "FAIL", (case_id, status, reason)
        assert re.search(pattern, reason), (case_id, reason)
    assert not result.passed


@dataclass(frozen=True)
class Scenario:
    defect: Defect
    only: str
    expected: dict[str, str]
    timeout: float = 9.0  # the kit's per-request timeout


SCENARIOS: dict[str, Scenario] = {
    "wrong namespace on a response element": Scenario(
        replace_in_responses(
            rb"r:creditVendReceipt", b"b:creditVendReceipt", "creditVendReq", count=0
        ),
        "CV-001",
        {"CV-001": "not schema-valid"},
    ),
    "serverID empty": Scenario(
        replace_in_responses(
            rb'<b:serverID xsi:type="b:EANDeviceID" ean="\d+"/>',
            b'<b:serverID xsi:type="b:GenericDeviceID" id=" "/>',
        ),
        "CC-001",
        {"CC-001": "serverID is missing or empty"},
    ),
    "serverID missing": Scenario(
        replace_in_responses(rb"<b:serverID [^>]*/>", b""), "CC-001", {"CC-001": "schema-valid"}
    ),
    "reqMsgID not echoed": Scenario(
        replace_in_responses(rb'(<b:reqMsgID [^>]*uniqueNumber=")\d+', rb"\g<1>424242"),
        "CC-001",
        {"CC-001": "reqMsgID is .*/424242"},
    ),
    "clientID not echoed": Scenario(
        replace_in_responses(rb'(<b:clientID [^>]*ean=")\d+', rb"\g<1>6004708000106"),
        "CC-001",
        {"CC-001": "clientID not echoed"},
    ),
    "respDateTime from the last century": Scenario(
        replace_in_responses(rb"<b:respDateTime>[^<]*<", b"<b:respDateTime>1999-12-31T23:59:59Z<"),
        "CC-001",
        {"CC-001": "respDateTime 1999"},
    ),
    "a replay that changes the token": Scenario(
        ReplayChangesToken(), "DU-001", {"DU-001": "another answer: .*stsCipher"}
    ),
    "no duplicate detection": Scenario(
        NoDuplicateDetection(),
        "DU-001,MI-003",
        {"DU-001": "another answer", "MI-003": "was processed"},
    ),
    "LastResponseEx where the vend exists": Scenario(
        LastResponseAlwaysMissing(),
        "LR-001,LR-002",
        {
            "LR-001": "expected LastRespAdviceResp, got fault soap:Server LastResponseEx",
            "LR-002": "LastResponseEx but money moved",
        },
    ),
    "lastResponse not the original": Scenario(
        replace_in_responses(rb'<b:lastResponse.*?receiptNo="\d+', other_digit),
        "LR-001",
        {"LR-001": "not the original response unchanged"},
    ),
    "reprint not the original": Scenario(
        replace_in_responses(rb"<r:reprint .*?<b:stsCipher>\d", other_digit, "reprintReq", count=0),
        "RP-001",
        {"RP-001": "not the original response unchanged|not among the reprints"},
    ),
    "soap:Client on a business fault": Scenario(
        replace_in_responses(rb"soap:Server", b"soap:Client"),
        "FT-001",
        {"FT-001": "must be soap:Server"},
    ),
    "HTTP 200 on a fault": Scenario(
        FaultsAnsweredWith200(), "FT-001,MF-001", {"FT-001": "HTTP 200, not 500"}
    ),
    "the wrong fault class": Scenario(
        replace_in_responses(rb"b:BlockedMeterEx", b"b:SystemEx"),
        "FT-001",
        {"FT-001": "expected BlockedMeterEx, got .*SystemEx"},
    ),
    "a trial with a real token": Scenario(
        TrialSellsForReal(zero_tokens=False), "TV-001", {"TV-001": "real-looking token"}
    ),
    "terminalID not echoed": Scenario(
        replace_in_responses(rb'(<b:terminalID [^>]*id=")[^"]*', rb"\g<1>OTHER"),
        "MI-001",
        {"MI-001": "terminalID not echoed"},
    ),
    "availCredit of the vend not the statement's": Scenario(
        replace_in_responses(rb'<b:availCredit value="\d+\.\d+', other_digit, "creditVendReq"),
        "VS-001",
        {"VS-001": "the vend reported availCredit"},
    ),
    "the WSDL of another service": Scenario(
        WsdlOfAnotherService(), "WS-001", {"WS-001": "targetNamespace 'urn:some-other-service'"}
    ),
    "answers slower than the client waits": Scenario(
        SlowVends(1.5), "CV-001", {"CV-001": "no answer from the server: timed out"}, timeout=1.0
    ),
    "a trial that moves money": Scenario(
        TrialSellsForReal(), "TV-001", {"TV-001": "trial vend moved money"}
    ),
    "SOAPAction required": Scenario(
        NeedsSoapAction(), "WS-002", {"WS-002": "HTTP 400, not a SOAP envelope"}
    ),
    "gzip ignored": Scenario(NeverGzip(), "WS-004", {"WS-004": "answered with identity"}),
    "an all-zero token on a real sale": Scenario(
        replace_in_responses(rb"<b:stsCipher>\d{20}<", b"<b:stsCipher>" + b"0" * 20 + b"<"),
        "CV-001",
        {"CV-001": "all-zero"},
    ),
    "receipt arithmetic": Scenario(
        replace_in_responses(rb'(<r:tenderAmt value=")(\d+)', rb"\g<1>1\g<2>"),
        "CV-002",
        {"CV-002": "tenderAmt 1"},
    ),
    "reversal claims a refund it did not make": Scenario(
        replace_in_responses(rb'txReversed="false"', b'txReversed="true"'),
        "RV-001",
        {"RV-001": "txReversed true but credit"},
    ),
    "confirmation refused": Scenario(
        replace_in_responses(rb'txConfirmed="true"', b'txConfirmed="false"'),
        "CF-001",
        {"CF-001": "txConfirmed false"},
    ),
    "a crash on malformed XML": Scenario(
        CrashOnBrokenXml(),
        "MF-001,MF-003",
        {"MF-001": "not a SOAP envelope", "MF-003": "not a SOAP envelope"},
    ),
    "oversized requests processed": Scenario(
        ProcessesOversizedRequests(), "MF-009", {"MF-009": "oversized request was processed"}
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_broken_server_fails_the_matching_cases(demo_server: LiveServer, name: str) -> None:
    scenario = SCENARIOS[name]
    result = run_through(demo_server, scenario.defect, scenario.only, timeout=scenario.timeout)
    assert_fails(result, scenario.expected)


@pytest.mark.slow
def test_unadvertised_operations_skip(demo_server: LiveServer) -> None:
    result = run_through(demo_server, HidesCreditVend(), "CV-001,CC-001")
    found = verdicts(result)
    assert found["CV-001"] == ("SKIP", "the server's WSDL does not advertise CreditVendRequest")
    assert found["CC-001"][0] == "PASS"
    assert result.passed  # a skip is not a failure


@pytest.mark.slow
def test_a_transparent_proxy_passes(demo_server: LiveServer) -> None:
    """The control: the proxy itself breaks nothing."""
    result = run_through(
        demo_server, Defect(), "wsdl,happy,msgid,duplicate,advice,malformed,FT-001,FT-002"
    )
    failed = {
        r.case.id: r.reason + "\n" + "".join(e.render() for e in r.log)[-3000:]
        for r in result.results
        if r.status == "FAIL"
    }
    assert not failed
    assert result.passed
