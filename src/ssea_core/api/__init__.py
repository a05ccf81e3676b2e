"""The HTTP API of SPEC §2 and §3, as handlers over the route table."""
