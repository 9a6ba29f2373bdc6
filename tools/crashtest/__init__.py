"""The crash campaign (``python -m tools.crashtest``): see :mod:`tools.crashtest.cli`."""
