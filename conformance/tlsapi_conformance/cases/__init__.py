"""The conformance cases: each written once against the tlsapi interface and run for every backend."""
