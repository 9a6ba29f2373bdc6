"""``GET /metrics`` under ``evd serve --workers N``: whichever worker answers reports the
sum over all the workers (counters and histograms summed, the in-flight gauge over the live
ones), from snapshots the workers share through a private directory. The merge is tested
on plain dicts, the directory on files, and the whole on two real workers (PostgreSQL)."""

from __future__ import annotations

import http.client
import json
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from live_support import ServerProcess, write_config
from twisted.internet.task import Clock

from vending.config import ConfigError, load_config
from vending.keyring import MasterKey
from vending.storage.database import Database, TxnStats
from xmlvend.server.metrics import (
    LATENCY_BUCKETS,
    Metrics,
    Snapshot,
    merge_snapshots,
    parse_snapshot,
    render_snapshot,
)
from xmlvend.server.metricsdir import SnapshotDirectory, SnapshotPublisher
from xmlvend.server.workers import Supervisor, worker_command

_SAMPLE = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\S+)$")


def samples(text: str) -> dict[str, float]:
    """``name{labels}`` -> value of every sample of an exposition."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            found[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return found


def worker_metrics(requests: int, *, db: dict[str, TxnStats] | None = None) -> Metrics:
    """A Metrics that counted ``requests`` creditVend requests, one vend and one fault."""
    metrics = Metrics(database_stats=(lambda: db) if db is not None else None)
    for _ in range(requests):
        metrics.request(
            operation="creditVend", outcome="ok", fault_class=None, http_status=200, seconds=0.02
        )
    metrics.vend("ELEC-DEMO")
    metrics.request(
        operation="creditVend",
        outcome="fault",
        fault_class="UnknownMeterEx",
        http_status=500,
        seconds=3.0,
    )
    return metrics


def stamped(snapshot: Snapshot, pid: int, *, final: bool = False) -> Snapshot:
    """A snapshot as another worker wrote it to its file."""
    parsed = parse_snapshot(json.dumps({**snapshot, "pid": pid, "final": final}))
    assert parsed is not None
    return parsed


# --- the merge, sans IO ---------------------------------------------------------------------------


def test_merge_sums_counters_histograms_and_database_counters() -> None:
    own = worker_metrics(2, db={"credit_vend": TxnStats(count=3, retries=1)})
    other = worker_metrics(5, db={"credit_vend": TxnStats(count=6), "login": TxnStats(count=1)})
    third = worker_metrics(1)  # no database statistics at all
    merged = merge_snapshots(
        own.snapshot(),
        [stamped(other.snapshot(), 101), stamped(third.snapshot(), 102)],
        live={101, 102},
    )
    found = samples("\n".join(render_snapshot(merged)))
    assert found['evd_xmlvend_requests_total{operation="creditVend",outcome="ok"}'] == 8
    assert found['evd_xmlvend_requests_total{operation="creditVend",outcome="fault"}'] == 3
    assert (
        found['evd_xmlvend_faults_total{operation="creditVend",fault_class="UnknownMeterEx"}'] == 3
    )
    assert found['evd_http_responses_total{status="200"}'] == 8
    assert found['evd_vends_total{product="ELEC-DEMO"}'] == 3
    assert found['evd_xmlvend_request_seconds_bucket{operation="creditVend",le="0.025"}'] == 8
    assert found['evd_xmlvend_request_seconds_bucket{operation="creditVend",le="5.0"}'] == 11
    assert found['evd_xmlvend_request_seconds_bucket{operation="creditVend",le="+Inf"}'] == 11
    assert found['evd_xmlvend_request_seconds_count{operation="creditVend"}'] == 11
    assert found['evd_xmlvend_request_seconds_sum{operation="creditVend"}'] == pytest.approx(
        8 * 0.02 + 3 * 3.0
    )
    assert found['evd_db_transactions_total{name="credit_vend"}'] == 9
    assert found['evd_db_transaction_retries_total{name="credit_vend"}'] == 1
    assert found['evd_db_transactions_total{name="login"}'] == 1


def test_merge_keeps_the_counters_of_a_worker_that_exited_but_not_its_in_flight() -> None:
    own, live, dead = worker_metrics(1), worker_metrics(2), worker_metrics(4)
    own.started()
    live.started()
    live.started()
    dead.started()  # in flight when it died: nothing is in flight there any more
    merged = merge_snapshots(
        own.snapshot(), [stamped(live.snapshot(), 7), stamped(dead.snapshot(), 8)], live={7}
    )
    found = samples("\n".join(render_snapshot(merged)))
    assert found['evd_xmlvend_requests_total{operation="creditVend",outcome="ok"}'] == 7
    assert found["evd_xmlvend_in_flight"] == 3
    alone = merge_snapshots(own.snapshot(), [])
    assert samples("\n".join(render_snapshot(alone)))["evd_xmlvend_in_flight"] == 1


def test_a_merged_exposition_keeps_the_names_and_label_sets_of_one_process() -> None:
    metrics = worker_metrics(3, db={"credit_vend": TxnStats(count=3)})
    merged = merge_snapshots(metrics.snapshot(), [])
    assert "\n".join(render_snapshot(merged)) + "\n" == metrics.render().decode()


@pytest.mark.parametrize(
    "text",
    [
        "",
        '{"format": 1, "pid": 5, "counters": {"requ',  # half written
        "not json at all",
        "[]",
        '{"format": 2}',
        "\xff\xfe",
    ],
)
def test_a_corrupt_or_partial_snapshot_is_refused(text: str) -> None:
    assert parse_snapshot(text.encode("latin-1")) is None


def test_a_snapshot_with_wrong_shapes_is_refused() -> None:
    good = stamped(worker_metrics(1).snapshot(), 9)
    assert parse_snapshot(json.dumps(good)) == good
    broken = [
        {**good, "pid": "9"},
        {**good, "in_flight": "1"},
        {**good, "counters": {**good["counters"], "requests": [[["creditVend"], 1]]}},
        {**good, "counters": {**good["counters"], "http": [[["200"], -1]]}},
        {**good, "counters": {"requests": []}},
        {**good, "histogram": {"creditVend": {"buckets": [1, 2], "sum": 0.1}}},
        {
            **good,
            "histogram": {"creditVend": {"buckets": [0] * (len(LATENCY_BUCKETS) + 1), "sum": "x"}},
        },
        {**good, "db": {"credit_vend": [1, 2]}},
    ]
    for snapshot in broken:
        assert parse_snapshot(json.dumps(snapshot)) is None, snapshot


# --- the shared directory -------------------------------------------------------------------------


def test_the_directory_sums_the_other_workers_and_skips_broken_files(tmp_path: Path) -> None:
    alive = {11, 12}
    first = SnapshotDirectory(tmp_path, pid=11, alive=alive.__contains__)
    second = SnapshotDirectory(tmp_path, pid=12, alive=alive.__contains__)
    a, b = worker_metrics(2), worker_metrics(3)
    b.started()
    second.write(b.snapshot())
    (tmp_path / "13.json").write_text('{"format": 1, "pid": 13, "coun')  # half written
    (tmp_path / "14.json").write_bytes(b"\x00garbage")
    (tmp_path / ".15.json.tmp").write_text("{}")
    (tmp_path / "notes.txt").write_text("ignored")
    found = samples("\n".join(render_snapshot(first.combine(a.snapshot()))))
    assert found['evd_xmlvend_requests_total{operation="creditVend",outcome="ok"}'] == 5
    assert found["evd_xmlvend_in_flight"] == 1
    assert (tmp_path / "11.json").exists()  # combine wrote this worker's file first

    # The file turns corrupt: the last good snapshot read from it still counts.
    (tmp_path / "12.json").write_text("{")
    found = samples("\n".join(render_snapshot(first.combine(a.snapshot()))))
    assert found['evd_xmlvend_requests_total{operation="creditVend",outcome="ok"}'] == 5

    # Worker 12 stops: its final snapshot counts, its in-flight gauge not (it is written
    # after the drain, so it says 0 anyway; here it still says 1).
    second.write(b.snapshot(), final=True)
    second.write(b.snapshot())  # once final, always final
    found = samples("\n".join(render_snapshot(first.combine(a.snapshot()))))
    assert found['evd_xmlvend_requests_total{operation="creditVend",outcome="ok"}'] == 5
    assert found["evd_xmlvend_in_flight"] == 0

    # A worker that died without a final snapshot: counters kept, not in flight.
    b.started()
    third = SnapshotDirectory(tmp_path, pid=16, alive=alive.__contains__)
    third.write(b.snapshot())
    found = samples("\n".join(render_snapshot(first.combine(a.snapshot()))))
    assert found['evd_xmlvend_requests_total{operation="creditVend",outcome="ok"}'] == 8
    assert found["evd_xmlvend_in_flight"] == 0


def test_scrapes_never_go_down_whichever_worker_answers(tmp_path: Path) -> None:
    """Each worker writes its own file before reading the others': a later scrape, on any
    worker, sees every worker's count at least as high as an earlier one did."""
    workers = [worker_metrics(0) for _ in range(3)]
    directories = [
        SnapshotDirectory(tmp_path, pid=20 + i, alive=lambda pid: True) for i in range(3)
    ]
    for metrics, directory in zip(workers, directories, strict=True):
        metrics.share(directory.combine)
    last = 0.0
    for step in range(30):
        workers[(step * 7) % 3].request(
            operation="healthz", outcome="ok", fault_class=None, http_status=200, seconds=0.001
        )
        answering = workers[(step * 5 + 1) % 3]
        total = samples(answering.render().decode()).get(
            'evd_xmlvend_requests_total{operation="healthz",outcome="ok"}', 0.0
        )
        assert total >= last
        last = total
    for metrics in workers:  # every worker's file is fresh: all agree on the total
        metrics.render()
    for metrics in workers:
        found = samples(metrics.render().decode())
        assert found['evd_xmlvend_requests_total{operation="healthz",outcome="ok"}'] == 30


def test_the_publisher_writes_on_its_timer_and_a_final_snapshot_at_stop(tmp_path: Path) -> None:
    clock = Clock()
    metrics = worker_metrics(1)
    directory = SnapshotDirectory(tmp_path, pid=31)
    publisher = SnapshotPublisher(metrics, directory, 0.5, clock)
    publisher.start()
    path = tmp_path / "31.json"

    def ok_count() -> int:
        snapshot = parse_snapshot(path.read_bytes())
        assert snapshot is not None
        (count,) = [
            n for labels, n in snapshot["counters"]["requests"] if labels == ["creditVend", "ok"]
        ]
        return count

    assert ok_count() == 1  # at once
    metrics.request(
        operation="creditVend", outcome="ok", fault_class=None, http_status=200, seconds=0.01
    )
    assert ok_count() == 1
    clock.advance(0.5)
    assert ok_count() == 2
    # render() now answers for the directory: a second worker's file is added.
    other = SnapshotDirectory(tmp_path, pid=32)
    other.write(worker_metrics(4).snapshot())
    found = samples(metrics.render().decode())
    assert found['evd_xmlvend_requests_total{operation="creditVend",outcome="ok"}'] == 6
    publisher.stop()
    assert json.loads(path.read_text())["final"] is True
    assert not clock.getDelayedCalls()


def test_a_snapshot_that_cannot_be_written_does_not_break_rendering(tmp_path: Path) -> None:
    metrics = worker_metrics(2)
    metrics.share(SnapshotDirectory(tmp_path / "removed", pid=41).combine)
    found = samples(metrics.render().decode())
    assert found['evd_xmlvend_requests_total{operation="creditVend",outcome="ok"}'] == 2


def test_a_single_process_renders_as_before() -> None:
    """No shared directory: the exposition is this process's own, no pid, no merge."""
    metrics = worker_metrics(2)
    text = metrics.render().decode()
    assert 'evd_xmlvend_requests_total{operation="creditVend",outcome="ok"} 2' in text
    assert "evd_db_" not in text  # no database statistics given


def test_the_supervisor_makes_and_removes_the_metrics_directory(tmp_path: Path) -> None:
    supervisor = Supervisor("127.0.0.1", 0, 2, grace_seconds=1, metrics_parent=str(tmp_path))
    try:
        directory = supervisor.metrics_dir
        assert directory is not None and Path(directory).is_dir()
        assert Path(directory).parent == tmp_path
        assert Path(directory).stat().st_mode & 0o077 == 0  # private
        command = worker_command(None, False, "127.0.0.1", 1, 2, 0, 5, directory)
        assert command[-2:] == ["--metrics-dir", directory]
        assert "--metrics-dir" not in worker_command(None, False, "127.0.0.1", 1, 2, 0, 5)
        supervisor.stop()
        assert not Path(directory).exists() and supervisor.metrics_dir is None
    finally:
        supervisor.stop()
        supervisor._socket.close()


def test_the_snapshot_interval_is_checked(tmp_path: Path) -> None:
    config = tmp_path / "evd.toml"
    config.write_text("[server]\nmetrics_snapshot_seconds = 0\n")
    with pytest.raises(ConfigError, match="metrics_snapshot_seconds"):
        load_config(config, environ={})
    config.write_text("[server]\nmetrics_snapshot_seconds = 0.1\n")
    assert load_config(config, environ={}).server.metrics_snapshot_seconds == 0.1


# --- two real workers -----------------------------------------------------------------------------


def get(url: str, path: str) -> tuple[int, bytes]:
    """One request on a fresh connection (SO_REUSEPORT spreads them over the workers)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def post(url: str, body: bytes) -> int:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("POST", parts.path, body, {"Content-Type": "text/xml; charset=utf-8"})
        answer = connection.getresponse()
        answer.read()
        return answer.status
    finally:
        connection.close()


HEALTHZ = 20
MALFORMED = 4
SCRAPES = 20


@pytest.mark.slow
def test_every_worker_reports_the_same_totals(pg_database: Database, tmp_path: Path) -> None:
    config = write_config(tmp_path, database_url=pg_database.url)
    run = tmp_path / "run"
    run.mkdir()
    server = ServerProcess.start(
        config,
        "--workers",
        "2",
        env={
            "EVD_MASTER_KEY": MasterKey.generate().to_base64(),
            "EVD__SERVER__METRICS_SNAPSHOT_SECONDS": "0.1",
            "TMPDIR": str(run),
        },
    )
    try:
        # The first worker listening starts the test; the banner says every worker does.
        deadline = time.monotonic() + 60
        while not any("SO_REUSEPORT" in line for line in server.stdout):
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
        base = server.url.rsplit("/", 1)[0]
        for _ in range(HEALTHZ):
            assert get(base, "/healthz")[0] == 200
        for _ in range(MALFORMED):
            assert post(server.url, b"<not-a-soap-envelope") == 500
        time.sleep(0.5)  # a few snapshot intervals: every worker's file is fresh
        (directory,) = run.glob("evd-metrics-*")
        assert len(list(directory.glob("*.json"))) == 2

        scraped_metrics = []
        for _ in range(SCRAPES):
            status, body = get(base, "/metrics")
            assert status == 200
            found = samples(body.decode())
            requests = {
                key: value
                for key, value in found.items()
                if key.startswith("evd_xmlvend_requests_total{")
                and 'operation="metrics"' not in key
            }
            assert found['evd_xmlvend_requests_total{operation="healthz",outcome="ok"}'] == HEALTHZ
            assert found['evd_xmlvend_request_seconds_count{operation="healthz"}'] == HEALTHZ
            assert sum(requests.values()) == HEALTHZ + MALFORMED, requests
            faults = [v for k, v in found.items() if k.startswith("evd_xmlvend_faults_total{")]
            assert sum(faults) == MALFORMED
            assert found["evd_xmlvend_in_flight"] == 0
            scraped_metrics.append(
                found.get('evd_xmlvend_requests_total{operation="metrics",outcome="ok"}', 0)
            )
        # The scrapes themselves are counted too, and never go down between scrapes.
        assert scraped_metrics == sorted(scraped_metrics)
        time.sleep(0.5)
        found = samples(get(base, "/metrics")[1].decode())
        assert found['evd_xmlvend_requests_total{operation="metrics",outcome="ok"}'] == SCRAPES

        access = [json.loads(line) for line in server.stdout if line.startswith("{")]
        for operation in ("healthz", "metrics"):  # both workers answered both kinds
            pids = {record["pid"] for record in access if record["operation"] == operation}
            assert len(pids) == 2, (operation, pids)
    finally:
        assert server.stop() == 0, server.output()
    assert not list(run.glob("evd-metrics-*")), "the supervisor removes the directory"
