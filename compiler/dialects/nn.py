"""Placeholder replaced by the nn dialect."""
