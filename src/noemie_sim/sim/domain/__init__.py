"""Identifiers, nomenclatures, reimbursement rules, synthetic population (pure, no I/O)."""
