"""Dialog flows, intents, slots and escalation decisions (imports the kernel only)."""
