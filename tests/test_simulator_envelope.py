"""Envelope, credentials, gateways and request shapes, as the real API answers them."""

from __future__ import annotations

import re

import pytest

from auditor.protocol.status import STATUS_CODES, message_for

BULK = "backlinks/bulk_pages_summary/live"
TASK_ID = re.compile(r"^\d{8}-\d{4}-\d{4}-0000-[0-9a-f]{12}$")


def test_success_envelope_has_the_real_shape(sim_client) -> None:
    response = sim_client.call(BULK, [{"targets": ["https://example.com/a", "example.org"], "tag": "t1"}])
    body = response.body
    assert response.status == 200
    assert list(body) == ["version", "status_code", "status_message", "time", "cost",
                          "tasks_count", "tasks_error", "tasks"]
    assert (body["status_code"], body["status_message"]) == (20000, "Ok.")
    assert re.fullmatch(r"\d+\.\d{4} sec\.", body["time"])
    assert body["tasks_count"] == 1 and body["tasks_error"] == 0
    task = response.task
    assert TASK_ID.match(task["id"])
    assert task["path"] == ["v3", "backlinks", "bulk_pages_summary", "live"]
    assert task["data"]["api"] == "backlinks" and task["data"]["function"] == "bulk_pages_summary"
    assert task["data"]["tag"] == "t1" and task["data"]["targets"] == ["https://example.com/a", "example.org"]
    assert task["result_count"] == 1
    rows = task["result"][0]["items_count"]
    assert task["cost"] == pytest.approx(0.02 + 0.00003 * rows)
    assert body["cost"] == task["cost"]


def test_task_ids_are_unique_and_stamped(sim_client) -> None:
    ids = {sim_client.call("appendix/errors").task["id"] for _ in range(20)}
    assert len(ids) == 20
    assert all(TASK_ID.match(i) for i in ids)


@pytest.mark.parametrize("auth", ["missing", "wrong"])
def test_bad_credentials_get_http_401_with_40100(client_for, simulator, auth) -> None:
    client = client_for(simulator, password="nope")
    response = client.call(BULK, [{"targets": ["example.com"]}], auth=auth == "wrong")
    assert response.status == 401
    assert response.body["status_code"] == 40100
    assert response.body["tasks"] is None and response.body["cost"] == 0
    assert simulator.stats.unauthorized == 1


def test_unknown_path_is_http_404_with_40400(sim_client) -> None:
    response = sim_client.call("backlinks/no_such_thing/live", [{"target": "example.com"}])
    assert response.status == 404
    assert response.body["status_code"] == 40400


def test_aisa_gateway_takes_bearer_and_a_single_object(sim_client) -> None:
    single = sim_client.call(BULK, {"targets": ["example.com"]}, gateway="aisa")
    array = sim_client.call(BULK, [{"targets": ["example.com"]}], gateway="aisa")
    assert single.status == array.status == 200
    assert single.task["result"] == array.task["result"]
    assert single.task["path"] == ["v3", "backlinks", "bulk_pages_summary", "live"]


def test_aisa_rejects_basic_and_dataforseo_rejects_bearer(client_for, simulator) -> None:
    client = client_for(simulator)
    token_as_basic = client.call(BULK, {"targets": ["example.com"]}, gateway="aisa",
                                 auth=False, headers={"Authorization": "Basic ZGVtbzpkZW1v"})
    bearer_on_v3 = client.call(BULK, [{"targets": ["example.com"]}], auth=False,
                               headers={"Authorization": "Bearer demo"})
    assert token_as_basic.status == bearer_on_v3.status == 401


def test_index_keyed_object_body_is_accepted_on_v3(sim_client) -> None:
    """DataForSEO's own Python/PHP examples post ``{"0": {...}}``."""
    response = sim_client.call(BULK, {"0": {"targets": ["example.com"]}})
    assert response.body["status_code"] == 20000 and response.task["status_code"] == 20000


def test_appendix_errors_lists_the_shared_status_table(sim_client) -> None:
    response = sim_client.call("appendix/errors")
    listed = {row["code"]: row["message"] for row in response.task["result"]}
    assert listed == {code: message_for(code) for code in STATUS_CODES}
    assert response.body["cost"] == 0


def test_user_data_reports_limits_and_a_balance_that_spending_lowers(client_for, make_simulator) -> None:
    client = client_for(make_simulator(balance=5.0, rate_limit_per_minute=1234))
    before = client.call("appendix/user_data").task["result"][0]
    assert before["login"] == "demo"
    assert before["rates"]["limits"]["minute"]["total"] == 1234
    assert before["money"]["balance"] == 5.0
    spent = client.call(BULK, [{"targets": ["example.com", "example.net"]}]).body["cost"]
    after = client.call("appendix/user_data").task["result"][0]
    assert after["money"]["balance"] == pytest.approx(5.0 - spent)
    assert spent > 0.02


def test_request_beyond_the_balance_is_http_402_and_not_charged(client_for, make_simulator) -> None:
    sim = make_simulator(balance=0.01)
    response = client_for(sim).call(BULK, [{"targets": ["example.com"]}])
    assert response.status == 402 and response.body["status_code"] == 40200
    assert sim.stats.spent_usd == 0


def test_credentials_are_configurable(client_for, make_simulator) -> None:
    sim = make_simulator(login="me", password="secret", api_key="k1")
    assert client_for(sim).call("appendix/errors").status == 401
    assert client_for(sim, login="me", password="secret").call("appendix/errors").status == 200
    assert client_for(sim, api_key="k1").call("appendix/errors", gateway="aisa").status == 200


def test_status_messages_come_from_the_shared_table(sim_client) -> None:
    response = sim_client.call(BULK, [{"targets": ["example.com"]}, {"targets": ["example.org"]}])
    assert response.body["status_code"] == 40000
    assert response.body["status_message"] == message_for(40000)
