"""`python -m coordinator bench`: how many real-time voices this host serves, and with what."""
