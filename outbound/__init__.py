"""Outbound campaigns, pacing, retries and outcomes (imports kernel and `compliance`).

- ``campaign_spec``: a campaign as its YAML file defines it (`CampaignSpec`),
  and as the scheduler runs it from the store (`Campaign`);
- ``contacts_csv``: contacts from CSV, every bad row named (row, column, why);
- ``retry_policy``: when a contact is called again after busy, no answer,
  machine, failed or unknown;
- ``pacing``: the calls-per-second token bucket of a campaign on a node;
- ``next_allowed``: when a time-bound refusal of the dialing rules lifts;
- ``answering_machine``: person or machine from the first seconds of an
  answered call, and on a machine when its beep lets the message start;
- ``voicemail_message``: the message left on a machine (who, why, the
  call-back number) and the healthcare minute;
- ``abandonment``: a campaign's abandonment rate over 30 days, and when it
  is over 3 % (small samples judged against 100 live answers);
- ``campaign_news``: finished attempts and campaign state changes on the
  node's event bus (``campaigns/<name>/attempt|state``);
- ``scheduler``: `CampaignScheduler`, the durable dialer of one node, over
  the store's attempt log and the kernel's call-control port
  (``callcenter.core.call_control``).
"""
