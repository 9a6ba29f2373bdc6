"""Bulk multi-recharge (issue 13 §5): a dealer's or merchant's file of up to 10,000 sales,
each row an idempotent sale through the ordinary sale services (docs/BULK.md).

``fileformat`` (pure: the CSV file with its checksum trailer, the JSON array), ``tables`` and
``store`` (the batch and its rows), ``renderer`` (the ``bulk`` channel's stored answers).
The service is ``vending/services/bulk.py``.
"""
