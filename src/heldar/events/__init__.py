"""The event log: what happened to cameras and services, stored and listed (later streamed)."""
