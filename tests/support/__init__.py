"""Shared test support: real engine processes, the test caller, audio checks."""
