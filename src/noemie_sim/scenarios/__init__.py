"""Scenario scripts, the runner, reports and the command line."""
