"""Real systems in place of simulated parties: connection kits and conformance verdicts
(external), fresh files for a kit (fresh), replaying a run's traffic (replay_traffic) and the
pytest plugin vendors use (pytest_plugin)."""
