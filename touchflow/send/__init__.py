"""Sending: the daemon, dispatch and its worker, outcomes, the outbox states, re-planning."""
