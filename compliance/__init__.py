"""Do-not-call, calling windows, consent, redaction, retention (imports the kernel only).

The dialing rules, "may this number be dialled now for this campaign?":

- ``dialing_rules``: ``decide(DialCase) -> DialDecision``, the ordered checks;
- ``dial_case``: the case, the decision and their enums;
- ``numbers``: which numbers are dialable and their candidate states and zones;
- ``calling_windows``, ``state_holidays``, ``frequency_caps``: the rules;
- ``us_states``: states, territories and their time zones;
- ``dial_facts``: the ``DialFacts`` port the stores implement;
- ``dial_case_json``: the JSON contract of ``callcenter outbound check``.
"""
