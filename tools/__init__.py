"""Operator and developer tools: conformance kit, benchmarks, load and data generators."""
