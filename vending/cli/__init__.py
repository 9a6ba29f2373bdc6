"""The ``evd`` command line."""
