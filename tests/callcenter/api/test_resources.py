"""The resources' answers and the OpenAPI document, on the test client."""

from __future__ import annotations

from typing import Any

from tests.callcenter.api.conftest import Api


def test_agents_carry_state_since_skills_and_queues(api: Api) -> None:
    [dana] = [a for a in api.get("/v1/agents", "boss").json() if a["id"] == "1001"]
    assert dana["name"] == "Dana Reyes" and dana["mode"] == "session"
    assert dana["state"] == "logged_out" and dana["session"] is False
    assert dana["since"].endswith("Z") or "+00:00" in dana["since"]
    assert dana["skills"]["front_desk"] == 8
    assert set(dana["queues"]) == {"front-desk", "billing", "spanish"}
    assert api.get("/v1/agents/4242", "boss").status_code == 404


def test_not_ready_needs_one_of_the_agents_file_s_reasons(api: Api) -> None:
    answer = api.client.post("/v1/agents/1001/state",
                             json={"action": "not_ready", "reason": "nap"},
                             headers=api.auth("dana"))
    assert answer.status_code == 422
    assert "break" in answer.json()["detail"] and "lunch" in answer.json()["detail"]
    bad = api.client.post("/v1/agents/1001/state", json={"action": "dance"},
                          headers=api.auth("dana"))
    assert bad.status_code == 422


def test_queues_give_live_figures_and_agents_by_state(api: Api) -> None:
    queues = {q["name"]: q for q in api.get("/v1/queues", "ana").json()}
    assert set(queues) == {"front-desk", "billing", "spanish"}
    desk = queues["front-desk"]
    assert (desk["waiting"], desk["longest_wait_s"], desk["callers"]) == (0, None, [])
    assert desk["agents"] == {"logged_out": 3, "ready": 0, "offered": 0, "on_call": 0,
                              "wrap_up": 0, "not_ready": 0}
    assert desk["strategy"] == "longest_idle" and desk["max_length"] == 10
    missing = api.get("/v1/queues/nowhere", "ana")
    assert missing.status_code == 404 and "front-desk" in missing.json()["detail"]


def test_no_live_call_is_404_and_a_stored_call_s_events_need_the_call(api: Api) -> None:
    assert api.get("/v1/calls", "ana").json() == []
    assert api.get("/v1/calls/c0ffee", "ana").status_code == 404
    assert api.get("/v1/calls/c0ffee/events", "ana").status_code == 404


def test_monitor_errors_map_to_http_codes_and_the_user_is_the_supervisor(api: Api) -> None:
    def post(body: dict[str, object]) -> tuple[int, dict[str, object]]:
        answer = api.client.post("/v1/monitors", json=body, headers=api.auth("ana"))
        return answer.status_code, answer.json()

    assert post({"call_id": "deadbeef", "mode": "listen"})[0] == 404
    code, body = post({"call_id": "c0ffee", "mode": "whisper"})
    assert code == 409 and "no agent" in str(body["detail"])
    assert post({"call_id": "c0ffee", "mode": "shout"})[0] == 422
    code, body = post({"call_id": "c0ffee", "mode": "listen", "phone": "sip:ana@127.0.0.1"})
    assert code == 201 and body["monitor_id"] == "m1" and body["supervisor"] == "ana"
    assert api.supervision.started[-1]["phone"] == "sip:ana@127.0.0.1"
    gone = api.client.delete("/v1/monitors/m9", headers=api.auth("ana"))
    assert gone.status_code == 404 and "m9" in gone.json()["detail"]
    agent = api.client.post("/v1/monitors", json={"call_id": "c0ffee"},
                            headers=api.auth("dana"))
    assert agent.status_code == 403


def test_the_openapi_document_describes_routes_schemas_and_bearer_auth(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    paths = doc["paths"]
    for path in ("/v1/agents", "/v1/agents/{agent_id}/state", "/v1/queues", "/v1/calls",
                 "/v1/calls/{call_id}/events", "/v1/monitors", "/v1/monitors/{monitor_id}",
                 "/v1/events", "/v1/me"):
        assert path in paths, path
    assert doc["components"]["securitySchemes"]["token"] == {
        "type": "http", "scheme": "bearer",
        "description": "A token from `callcenter users add NAME --role ROLE`."}
    assert set(paths["/v1/monitors/{monitor_id}"]) == {"patch", "delete"}
    post = paths["/v1/monitors"]["post"]
    assert {"201", "401", "403", "404", "409", "502"} <= set(post["responses"])
    agent = doc["components"]["schemas"]["Agent"]["properties"]
    assert agent["since"]["format"] == "date-time" and agent["since"]["description"]
    assert "LiveCallInfo" in doc["components"]["schemas"]
    for page in ("/docs", "/redoc"):
        html = api.client.get(page).text
        assert "cdn" not in html.lower() and "/static-offline-docs/" in html
    assert api.client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200


def test_an_on_demand_agent_logs_in_gets_ready_and_logs_out_through_the_api(api: Api) -> None:
    def act(agent: str, body: dict[str, str], user: str = "boss") -> tuple[int, Any]:
        answer = api.client.post(f"/v1/agents/{agent}/state", json=body, headers=api.auth(user))
        return answer.status_code, answer.json()

    code, lee = act("1003", {"action": "log_in"})
    assert code == 200 and (lee["state"], lee["reason"]) == ("not_ready", "logged_in")
    assert act("1003", {"action": "ready"})[1]["state"] == "ready"
    code, problem = act("1003", {"action": "wrap_up_done"})
    assert code == 409 and problem["detail"] == "agent 1003 cannot finish wrap-up while ready"
    assert act("1003", {"action": "not_ready", "reason": "lunch"})[1]["reason"] == "lunch"
    assert act("1003", {"action": "log_out"})[1]["state"] == "logged_out"
    code, problem = act("1001", {"action": "log_in"}, user="dana")
    assert code == 409 and "by phone" in problem["detail"]
