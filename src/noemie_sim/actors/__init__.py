"""The organisations of the network: practitioner, CPAM, mutuelle, employer."""
