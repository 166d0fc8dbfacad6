"""Data files in and out: import readers and parsers, and the sample project's data."""
