"""tlsapi benchmarks: run with ``python -m bench``."""
