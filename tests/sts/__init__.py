"""Tests of the STS token engine (utilities.sts)."""
