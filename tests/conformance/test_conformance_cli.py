"""The command lines: ``evd conformance`` (selection, JUnit, exit status, options) and
``evd client`` (readable and raw answers) against our demo server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conformance_defects import FaultsAnsweredWith200
from conformance_proxy import broken_server
from conformance_servers import LiveServer
from lxml import etree

from vending.cli.main import main

pytestmark = pytest.mark.slow


def junit(path: Path) -> etree._Element:
    suite = etree.parse(str(path)).getroot().find("testsuite")
    assert suite is not None
    return suite


def test_only_selects_and_junit_counts_match(
    demo_server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.xml"
    status = main(
        ["conformance", demo_server.url, "--only", "CV-001,tls", "--only", "FT-001",
         "--junit", str(report)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0
    lines = [line for line in out.splitlines() if re.match(r"[A-Z]{2}-\d{3}  ", line)]
    assert [line[:6] for line in lines] == ["CV-001", "FT-001", "TL-001", "TL-002", "TL-003"]
    assert "5 cases: 2 passed, 0 failed, 3 skipped" in out
    suite = junit(report)
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("5", "0", "3")
    cases = suite.findall("testcase")
    assert [c.get("name", "")[:6] for c in cases] == [
        "CV-001",
        "FT-001",
        "TL-001",
        "TL-002",
        "TL-003",
    ]
    assert all(c.find("skipped") is not None for c in cases[2:])
    wire = "".join(c.findtext("system-out") or "" for c in cases)
    assert "creditVendReq" in wire and "demo1234" not in wire  # passwords blanked


def test_a_failure_is_reported_and_exits_1(
    demo_server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.xml"
    with broken_server(demo_server.url, FaultsAnsweredWith200()) as url:
        status = main(["conformance", url, "--only", "FT-001,CC-001", "--junit", str(report),
                       "--wire"])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 1
    assert re.search(r"FT-001  Blocked meter \.+  FAIL  .*HTTP 200, not 500", out)
    assert "NOT CONFORMANT" in out and "--- creditVendReq (blocked meter): HTTP 200" in out
    suite = junit(report)
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("2", "1", "0")
    failure = suite.find("testcase/failure")
    assert failure is not None and "HTTP 200, not 500" in failure.get("message", "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--meter", "bogus=123"], "unknown meter role"),
        (["--only", "XX-001"], "unknown case id"),
        (["--key-change-from", "12:x"], "SGC:KRN:TI"),
        (["--amount", "ten"], "not a number"),
    ],
)
def test_usage_errors_exit_2(
    demo_server: LiveServer, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["conformance", demo_server.url, *args]) == 2
    assert message in capsys.readouterr().err


def test_meter_roles_can_be_overridden_and_switched_off(
    demo_server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # The blocked role pointed at the unknown meter: FT-001 now fails, naming what came.
    status = main(["conformance", demo_server.url, "--meter", "blocked=04100000043",
                   "--meter", "slow=", "--only", "FT-001,FT-010"])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 1
    assert re.search(r"FT-001 .* FAIL  blocked meter: expected BlockedMeterEx, got .*Unknown", out)
    assert re.search(r"FT-010 .* SKIP  no test meter for role 'slow'", out)


def test_client_vend_is_readable(
    demo_server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["client", "vend", "--url", demo_server.url, "--meter", "04100000019",
                   "--amount", "20.00", "--tender", "50.00"])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0
    assert re.search(r"TOKEN  \d{4} \d{4} \d{4} \d{4} \d{4}\n", out), out
    assert "tendered ZAR 50.00  change ZAR 30.00" in out
    assert "Receipt " in out and "Available credit ZAR" in out
    msg_id = re.search(r"msgID (\d{14}:\d+)", out)
    assert msg_id is not None

    # The same sale again, by last-response advice about its msgID.
    status = main(["client", "advice", "last", msg_id.group(1), "--url", demo_server.url])
    advice = capsys.readouterr().out
    assert status == 0
    assert "LastRespAdviceResp" in advice
    assert re.search(r"TOKEN  [\d ]{24}", advice).group(0) in out  # type: ignore[union-attr]


def test_client_raw_prints_the_xml(
    demo_server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["client", "confirm", "--url", demo_server.url, "--meter", "04100000019",
                   "--raw"])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0
    xml = out.split("\n", 1)[1]
    assert xml.startswith("<?xml") and "<r:confirmCustomerResp>" in xml
    etree.fromstring(xml.strip().encode())


def test_client_shows_faults_with_class_and_desc(
    demo_server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["client", "vend", "--url", demo_server.url, "--meter", "04100000035",
                   "--amount", "20.00"])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 1
    assert "FAULT BlockedMeterEx (soap:Server, HTTP 500" in out
    assert "blocked" in out.splitlines()[2]


def test_client_voucher_sale_shows_the_pin(
    demo_server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["client", "vend", "--url", demo_server.url, "--product", "AIR-DEMO-10",
                   "--amount", "10.00"])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0
    assert re.search(r"PIN  \d{4} \d{4} \d{4} \d{4}  serial \S+", out), out


def test_client_without_a_server_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["client", "statement", "--url", "http://127.0.0.1:9/xmlvend", "--timeout", "2"])
    out = capsys.readouterr().out
    assert status == 2
    assert "no answer" in out and "evd client advice last" in out


def test_list_needs_no_url(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["conformance", "--list"]) == 0
    assert "| CV-001 | Credit vend |" in capsys.readouterr().out
    assert main(["conformance"]) == 2
