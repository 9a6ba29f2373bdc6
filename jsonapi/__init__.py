"""The JSON API (``/api/v1``): an adapter beside ``xmlvend/`` that translates HTTP+JSON to
the application services and renders their results. No SQL, no storage imports."""
