"""The XMLVend 2.1 conformance kit (``evd conformance``): a catalogue of test cases run
against any XMLVend server, for integrators proving their side before going live and for
our own server in the test suite. See docs/CONFORMANCE.md.

Modules: ``catalogue`` (the cases as data), ``cases_*`` (their scenarios), ``checks`` (the
rules), ``steps`` (shared multi-request steps), ``builders`` / ``malformed`` (what is
sent), ``session`` (one case's conversation), ``runner``, ``report``, ``transport``
(standard-library HTTP(S)), ``reply`` (reading answers), ``wsdl``, ``profile`` (who we
are, the test meters), ``cli``.
"""
