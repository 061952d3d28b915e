"""The kernel: norms (codecs), domain, clock, journal, transport."""
