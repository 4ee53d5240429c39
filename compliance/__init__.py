"""Do-not-call, calling windows, consent, redaction, retention (imports the kernel only).

The dialing rules, "may this number be dialled now for this campaign?":

- ``dialing_rules``: ``decide(DialCase) -> DialDecision``, the ordered checks;
- ``dial_case``: the case, the decision and their enums;
- ``numbers``: which numbers are dialable and their candidate states and zones;
- ``calling_windows``, ``state_holidays``, ``frequency_caps``: the rules;
- ``us_states``: states, territories and their time zones;
- ``dial_facts``: the ``DialFacts`` port the stores implement;
- ``dial_case_json``: the JSON contract of ``callcenter outbound check``.

The do-not-call lists and consents:

- ``dnc_registry``: a National DNC Registry snapshot in memory (fast scalar
  and batch lookups) and its snapshot files;
- ``dnc_registry_file``: import of the FTC's registry files into a snapshot;
- ``dnc_numbers``: numbers as the lists keep them (E.164);
- ``store_dial_facts``: ``StoreDialFacts``, the port read from the store's
  internal list and consents and from the current snapshot.
"""
