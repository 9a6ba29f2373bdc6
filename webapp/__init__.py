"""The phone web app at ``/app``: a progressive web app for merchants and consumers that
uses the JSON API (``/api/v1``) exactly as any third-party app would (docs/APP.md)."""
