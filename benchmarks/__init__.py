"""Benchmarks: training speed and quality against the lab's loop, app latency, scaling."""
