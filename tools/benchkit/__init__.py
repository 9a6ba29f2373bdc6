"""Helpers of the benchmarks under ``tools/``: the HTTP load generator, the bench database
(seeding, pgbench) and the server process."""
