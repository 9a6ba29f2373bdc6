"""Reporting a run: one console line per case, a summary, JUnit XML for CI systems."""

from __future__ import annotations

import socket

from lxml import etree

from tools.conformance.runner import CaseResult, RunResult

TITLE_WIDTH = 46


def case_line(result: CaseResult) -> str:
    """``CV-001  Credit vend ........................  PASS  receipt 42, token ...``"""
    title = result.case.title
    if len(title) > TITLE_WIDTH:
        title = title[: TITLE_WIDTH - 1] + "…"
    dots = " " + "." * (TITLE_WIDTH - len(title) + 1)
    line = f"{result.case.id}  {title}{dots}  {result.status}"
    if result.reason:
        line += f"  {result.reason}"
    return line


def summary(run: RunResult) -> str:
    total = len(run.results)
    verdict = "CONFORMANT" if run.passed else "NOT CONFORMANT"
    if run.passed and run.count("SKIP"):
        verdict += " (for the cases that ran)"
    return (
        f"{total} cases: {run.count('PASS')} passed, {run.count('FAIL')} failed, "
        f"{run.count('SKIP')} skipped in {run.elapsed:.1f} s against {run.url} - {verdict}"
    )


def junit_xml(run: RunResult) -> bytes:
    """JUnit XML: one testsuite, one testcase per case (classname = category); failures and
    skips carry the reason, every case its wire log in system-out."""
    suite = etree.Element(
        "testsuite",
        name="xmlvend-conformance",
        tests=str(len(run.results)),
        failures=str(run.count("FAIL")),
        errors="0",
        skipped=str(run.count("SKIP")),
        time=f"{run.elapsed:.3f}",
        timestamp=run.started.strftime("%Y-%m-%dT%H:%M:%S"),
        hostname=socket.gethostname(),
    )
    properties = etree.SubElement(suite, "properties")
    etree.SubElement(properties, "property", name="url", value=run.url)
    advertised = run.wsdl.advertised
    etree.SubElement(
        properties,
        "property",
        name="advertised-operations",
        value=", ".join(sorted(advertised)) if advertised is not None else "(WSDL unreadable)",
    )
    for result in run.results:
        case = etree.SubElement(
            suite,
            "testcase",
            classname=f"xmlvend.{result.case.category}",
            name=f"{result.case.id} {result.case.title}",
            time=f"{result.elapsed:.3f}",
        )
        if result.status == "FAIL":
            failure = etree.SubElement(case, "failure", message=_clean(result.reason))
            failure.set("type", "NotConformant")
            failure.text = _clean(result.reason)
        elif result.status == "SKIP":
            etree.SubElement(case, "skipped", message=_clean(result.reason))
        if result.log:
            out = etree.SubElement(case, "system-out")
            out.text = _clean("".join(entry.render() for entry in result.log))
    root = etree.Element("testsuites")
    root.append(suite)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _clean(text: str) -> str:
    """XML 1.0 cannot carry most control characters; a server's answer may contain them."""
    return "".join(ch if ch in "\t\n\r" or ord(ch) >= 0x20 else "?" for ch in text)
