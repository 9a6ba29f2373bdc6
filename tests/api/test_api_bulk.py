"""Bulk multi-recharge through the JSON API (docs/BULK.md; SQLite and PostgreSQL): a CSV
file or JSON rows are answered at once with the batch, sold in the background, counted by
the status endpoint, their results downloadable as CSV; the same file again sells nothing;
a bad file is refused whole; completion is pushed to the key's callback URL."""

from __future__ import annotations

import csv
import io

from api_support import ApiWorld
from server_support import PLATFORM, VOUCHER_PRODUCT

from bulk import fileformat

ROWS = [
    {"product": VOUCHER_PRODUCT, "target": "", "amount": "", "ref": "v1"},
    {"product": VOUCHER_PRODUCT, "target": "", "amount": "", "ref": "v2"},
    {"product": "NO-SUCH", "target": "", "amount": "", "ref": "unknown"},
    {"product": VOUCHER_PRODUCT, "target": "", "amount": "ten", "ref": "malformed"},
]


def _post_csv(api: ApiWorld, content: bytes, key: str | None = None):  # type: ignore[no-untyped-def]
    return api.client.request(
        "POST",
        "/api/v1/bulk",
        raw=content,
        key=key or api.key,
        headers={"Content-Type": "text/csv"},
    )


def _register_callback(api: ApiWorld) -> None:
    response = api.client.request(
        "PUT", "/api/v1/webhook", body={"callback_url": "https://dealer.example/evd"}, key=api.key
    )
    secret = response.json()["secret"]
    api.sentinel.register(secret)
    api.receiver.secret = secret.encode()


def test_csv_file_sold_counted_results_and_pushed(api: ApiWorld) -> None:
    _register_callback(api)
    before = api.balance()
    sales_before = api.sale_count()
    content = fileformat.write_csv("DLR-2026-12-06-001", ROWS)
    submitted = _post_csv(api, content)
    assert submitted.status == 202, submitted.body
    batch = submitted.json()
    assert batch["total"] == 4 and batch["file_id"] == "DLR-2026-12-06-001"
    assert submitted.headers["location"] == f"/api/v1/bulk/{batch['batch_id']}"
    status = api.client.get(f"/bulk/{batch['batch_id']}", key=api.key).json()
    assert status["state"] == "done"
    assert status["counts"] == {"queued": 0, "sold": 2, "pending": 0, "failed": 2}
    assert api.sale_count() == sales_before + 2
    assert api.balance() < before

    results = api.client.get(f"/bulk/{batch['batch_id']}/results", key=api.key)
    assert results.headers["content-type"] == "text/csv; charset=utf-8"
    rows = {r["ref"]: r for r in csv.DictReader(io.StringIO(results.body.decode()))}
    assert rows["v1"]["state"] == "sold" and rows["v1"]["pin"] and rows["v1"]["serial"]
    assert rows["v1"]["pin"] != rows["v2"]["pin"]
    assert rows["unknown"]["state"] == "failed" and "NO-SUCH" in rows["unknown"]["reason"]
    assert rows["malformed"]["reason"] == "amount is not a decimal amount"

    api.advance(1)
    pushed = api.receiver.verified()
    assert pushed["event"] == "bulk.completed" and pushed["batch_id"] == batch["batch_id"]
    assert pushed["counts"]["sold"] == 2

    # The same file again: the same batch, nothing sold.
    after = api.balance()
    again = _post_csv(api, content)
    assert again.status == 200 and again.json()["batch_id"] == batch["batch_id"]
    assert api.sale_count() == sales_before + 2 and api.balance() == after
    assert api.ledger_ok()

    # Another merchant's key does not see the batch.
    other = api.new_key(vendor=PLATFORM, operator="platform")
    assert api.client.get(f"/bulk/{batch['batch_id']}", key=other).status == 404


def test_json_rows_and_a_bad_file(api: ApiWorld) -> None:
    sales_before = api.sale_count()
    submitted = api.client.post(
        "/bulk", {"file_id": "J-1", "rows": [{"product": VOUCHER_PRODUCT}]}, key=api.key
    )
    assert submitted.status == 202, submitted.body
    assert submitted.json()["counts"]["queued"] == 1  # the answer comes before the sale
    batch_id = submitted.json()["batch_id"]
    assert api.client.get(f"/bulk/{batch_id}", key=api.key).json()["counts"]["sold"] == 1
    tampered = fileformat.write_csv("DLR-X", ROWS).replace(b"v2", b"v3")
    refused = _post_csv(api, tampered)
    assert refused.status == 400 and b"checksum" in refused.body
    # The file id reused for other content is refused; nothing more is sold.
    reused = api.client.post(
        "/bulk",
        {"file_id": "J-1", "rows": [{"product": VOUCHER_PRODUCT, "ref": "x"}]},
        key=api.key,
    )
    assert reused.status >= 400
    assert api.sale_count() == sales_before + 1
    wrong_type = api.client.request(
        "POST", "/api/v1/bulk", raw=b"x", key=api.key, headers={"Content-Type": "text/plain"}
    )
    assert wrong_type.status == 415
