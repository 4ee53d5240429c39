"""Outbound campaigns, pacing, retries and outcomes (imports kernel and `compliance`)."""
