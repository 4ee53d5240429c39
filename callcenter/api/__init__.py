"""The control API inside the engine: HTTP (FastAPI), bearer tokens per user.

- :mod:`~callcenter.api.app`: the app factory (``create_app``), routes under ``/v1``;
- :mod:`~callcenter.api.auth`: tokens to users, roles agent / supervisor / admin;
- one router per resource: :mod:`~callcenter.api.agents`, :mod:`~callcenter.api.queues`,
  :mod:`~callcenter.api.calls`, :mod:`~callcenter.api.monitors`,
  :mod:`~callcenter.api.events` (Server-Sent Events);
- :mod:`~callcenter.api.schemas`: what goes in and out (the OpenAPI document);
- :mod:`~callcenter.api.server`: serving on the engine's loop, started and stopped by it;
- :mod:`~callcenter.api.client`: the CLI's side of it.
"""
