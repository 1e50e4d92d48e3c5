"""The scenarios of `make reliability` (``bench/reliability.py``), one module each."""
