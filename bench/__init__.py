"""Benchmarks of the ledger against pymerkle 7: `python -m bench` runs them all and writes
docs/benchmarks.md. They are not tests: pytest never collects them (its testpaths is `tests`)."""
