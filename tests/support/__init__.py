"""Helpers shared by the test suites: isolated infrastructure, processes, waiting, numbers."""
