"""Who may do what: 401 without a valid token, 403 for a role that may not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callcenter.api.auth import Principal, Role
from callcenter.api.events import topic_pattern
from tests.callcenter.api.conftest import Api

READ_ALL = ["/v1/queues", "/v1/queues/front-desk", "/v1/calls", "/v1/monitors",
            "/v1/calls/c0ffee/events"]


@pytest.mark.parametrize("path", ["/v1/me", "/v1/agents", *READ_ALL])
def test_no_token_or_a_bad_one_is_401_with_the_bearer_challenge(api: Api, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer cc_nobody"},
                    {"Authorization": "Basic Ym9zczpib3Nz"}):
        answer = api.client.get(path, headers=headers)
        assert answer.status_code == 401, (path, headers, answer.text)
        assert answer.headers["www-authenticate"] == "Bearer"
        assert "token" in answer.json()["detail"]


def test_a_removed_user_is_refused_at_once(api: Api) -> None:
    assert api.get("/v1/me", "ana").status_code == 200
    api.store.api_users.disable("ana", at=datetime.now(UTC))
    assert api.get("/v1/me", "ana").status_code == 401


def test_me_tells_who_the_token_belongs_to(api: Api) -> None:
    assert api.get("/v1/me", "dana").json() == {"name": "dana", "role": "agent",
                                                "agent_id": "1001"}
    assert api.get("/v1/me", "boss").json()["role"] == "admin"


@pytest.mark.parametrize("path", READ_ALL)
def test_an_agent_may_not_read_queues_calls_or_monitors(api: Api, path: str) -> None:
    answer = api.get(path, "dana")
    assert answer.status_code == 403
    assert "dana" in answer.json()["detail"] and "supervisor, admin" in answer.json()["detail"]


def test_an_agent_sees_and_changes_only_their_own_agent(api: Api) -> None:
    assert [a["id"] for a in api.get("/v1/agents", "dana").json()] == ["1001"]
    assert api.get("/v1/agents/1001", "dana").status_code == 200
    assert api.get("/v1/agents/1002", "dana").status_code == 403
    other = api.client.post("/v1/agents/1002/state", json={"action": "ready"},
                            headers=api.auth("dana"))
    assert other.status_code == 403


def test_a_supervisor_reads_everything_but_sets_no_agent_state(api: Api) -> None:
    assert [a["id"] for a in api.get("/v1/agents", "ana").json()] == ["1001", "1002", "1003"]
    assert api.get("/v1/queues", "ana").status_code == 200
    answer = api.client.post("/v1/agents/1001/state", json={"action": "ready"},
                             headers=api.auth("ana"))
    assert answer.status_code == 403


def test_an_admin_may_change_any_agent_and_gets_the_state_machine_s_answer(api: Api) -> None:
    # Logged out: the same refusal the session's keys would meet.
    answer = api.client.post("/v1/agents/1002/state", json={"action": "ready"},
                             headers=api.auth("boss"))
    assert answer.status_code == 409
    assert answer.json()["detail"] == "agent 1002 cannot become ready while logged_out"


@pytest.mark.parametrize("topic", ["#", "calls/#", "agents/1002/#", "agents/+/offer"])
def test_an_agent_follows_only_their_own_agent_s_events(api: Api, topic: str) -> None:
    answer = api.client.get("/v1/events", params={"topic": topic}, headers=api.auth("dana"))
    assert answer.status_code == 403
    assert "agents/1001/#" in answer.json()["detail"]


def test_the_topic_an_agent_may_follow_defaults_to_their_own() -> None:
    dana = Principal("dana", Role.AGENT, "1001")
    assert topic_pattern(dana, None) == "agents/1001/#"
    assert topic_pattern(dana, "agents/1001/offer") == "agents/1001/offer"
    assert topic_pattern(Principal("ana", Role.SUPERVISOR), None) == "#"
    assert topic_pattern(Principal("ana", Role.SUPERVISOR), "calls/+/queue") == "calls/+/queue"
