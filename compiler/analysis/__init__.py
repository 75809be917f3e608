"""Analyses over the IR (statistics, later liveness and memory planning)."""
