"""The fuzzer (python -m tools.fuzz) as a test: a few hundred cases of every source through
the codec and the in-process server, none unhandled; and its classification does notice an
unhandled case (a check that cannot fail would prove nothing)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tools.fuzz import cli
from tools.fuzz.seeds import seed_documents
from tools.fuzz.target import ServerTarget, codec_outcome

pytestmark = pytest.mark.slow


def test_a_few_hundred_cases_have_no_unhandled_outcome(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["--cases", "300", "--seed", "11", "--crash-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "300 cases, 0 unhandled" in out, out
    assert status == 0
    assert "cases by source" in out and "'xsd'" in out and "'mutation'" in out
    assert not list(tmp_path.iterdir())


def test_every_seed_is_a_request_the_server_answers() -> None:
    target = ServerTarget(vouchers=10)
    try:
        for document in seed_documents():
            assert codec_outcome(document)[0].startswith(("parsed", "unsupported"))
            outcome, details = target.outcome(document)
            assert outcome.startswith(("answered", "fault")), (outcome, details)
    finally:
        target.close()


def test_an_error_the_server_logs_counts_as_unhandled() -> None:
    target = ServerTarget(vouchers=0)
    try:
        original = target.server.site.resource

        class Exploding:
            isLeaf = True

            def render(self, request: object) -> bytes:
                logging.getLogger("evd.xmlvend").error("boom")
                return original.render(request)

        target.server.site.resource = Exploding()
        outcome, details = target.outcome(seed_documents()[0])
        assert outcome == "UNHANDLED error logged (logged)"
        assert details == "boom"
    finally:
        target.close()


def test_the_target_gives_the_log_level_back() -> None:
    # The suite's later tests read the server's INFO lines (access log): a fuzz target run
    # inside it must not leave the "evd" loggers silenced.
    before = logging.getLogger("evd").level
    ServerTarget(vouchers=0).close()
    assert logging.getLogger("evd").level == before
