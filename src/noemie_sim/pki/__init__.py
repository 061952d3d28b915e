"""Three-tier test PKI and CMS sealed files (issue: Three-tier test PKI)."""
