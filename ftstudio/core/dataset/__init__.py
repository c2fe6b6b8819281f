"""Datasets: lossless records, formats, validation, statistics and splits (pure Python)."""
