"""Benchmarks of deconflict: the shared workload, runners, results and plots."""
