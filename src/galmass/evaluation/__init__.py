"""Evaluation: predictions on evaluation sets, statistics, calibration (TARP) and metrics."""
