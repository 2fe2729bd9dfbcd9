"""The benchmark pipeline: a catalogue of sources (see benchmarks/run.py)."""
