"""Benchmarks of Comment Warden (issue 9): see bench/README.md."""
