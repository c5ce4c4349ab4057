"""The benchmarks: `python -m bench` (or `make bench`) runs them all and prints
one table; `python -m bench.<name>` runs one. See bench/all.py."""
