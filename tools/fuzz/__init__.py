"""The XMLVend fuzzer (``python -m tools.fuzz --cases N``): see :mod:`tools.fuzz.cli`."""
