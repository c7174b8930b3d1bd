"""Measurement: published and measured benchmark results, and the calibration they feed."""
