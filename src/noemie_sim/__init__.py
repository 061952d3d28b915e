"""noemie-sim: a test harness simulating the French health-insurance exchange network.

Layers, each importing only those before it (docs/architecture.md):
``pki`` -> ``sim`` -> ``actors`` -> ``scenarios``.
"""

__version__ = "0.1.0"
