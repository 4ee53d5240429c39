"""Do-not-call, calling windows, consent, redaction, retention (imports the kernel only)."""
