"""The simulator's response cache, over real HTTP: a cached answer is the generated one byte for byte,
a repeated request does not reach the route's handler, transport faults still apply, and no
entry is ever shared between scales. The cache is off unless the server is given a folder."""

from __future__ import annotations

import http.client
import json
from collections import Counter
from urllib.parse import quote, urlsplit

import pytest

from social_value.simulator import organisation, server
from social_value.simulator.response_cache import entries

SCALE = organisation.Scale(employees=20, months=2)
DAY = "2026-10-15"
SOQL = "SELECT Id, Email, SystemModstamp FROM User ORDER BY SystemModstamp, Id"
HOST = "simulator.test"  # the same Host for every server, so servers can share entries
SURVEY = "/v3/surveys/{id}/responses/bulk?per_page=3&page={page}"


@pytest.fixture
def handler_calls(monkeypatch) -> Counter:
    """Calls per route handler (by name), counted as the server dispatches them."""
    calls: Counter = Counter()

    def counted(handler):
        def call(request):
            calls[handler.__name__] += 1
            return handler(request)
        return call

    monkeypatch.setattr(server, "ROUTES", [(pattern, counted(handler)) for pattern, handler in server.ROUTES])
    return calls


def fetch(base_url: str, token: str, target: str, headers: dict | None = None
          ) -> tuple[int, dict[str, str], bytes]:
    """One GET as sent, no redirects followed: status, headers, the body as received."""
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        connection.request("GET", target, headers={"Authorization": f"Bearer {token}", "Host": HOST,
                                                   **(headers or {})})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def survey_id() -> str:
    from social_value.simulator import survey_world
    return survey_world.SURVEY_ID


def targets(base_url: str, token: str) -> list[tuple[str, dict]]:
    """A request of every cached kind: Graph's CSV, the export ZIP, a Salesforce query and its next
    page (found from the first), SurveyMonkey's survey list and two bulk pages."""
    soql = {"Sforce-Query-Options": "batchSize=7"}
    query = f"/services/data/v60.0/queryAll?q={quote(SOQL)}"
    _, _, first = fetch(base_url, token, query, soql)
    next_page = json.loads(first)["nextRecordsUrl"]
    return [
        (f"/reports-download/yammer-activity-user-detail/{DAY}.csv", {}),
        ("/api/v1/export?since=2000-01-01T00:00:00Z&until=2026-11-01T00:00:00Z", {}),
        (query, soql),
        (next_page, soql),
        ("/v3/surveys", {}),
        (SURVEY.format(id=survey_id(), page=1), {}),
        (SURVEY.format(id=survey_id(), page=2), {}),
    ]


def test_a_cached_answer_is_the_generated_one_and_skips_the_handler(serve_simulator, tmp_path,
                                                                      handler_calls):
    plain = serve_simulator(SCALE)
    cached = serve_simulator(SCALE, cache_dir=tmp_path)
    requests = targets(*cached)
    generated = [fetch(*plain, target, headers) for target, headers in requests]
    first = [fetch(*cached, target, headers) for target, headers in requests]
    calls_before = Counter(handler_calls)
    second = [fetch(*cached, target, headers) for target, headers in requests]

    assert handler_calls == calls_before, "a repeated request reached a handler"
    for (target, _), made, stored, served in zip(requests, generated, first, second, strict=True):
        assert made[0] == stored[0] == served[0] == 200, target
        # The same bytes as a server without a cache, and as the answer that filled the entry.
        assert made[2] == stored[2] == served[2] and len(served[2]) > 0, target
        assert served[1]["Content-Type"] == made[1]["Content-Type"], target
        assert served[1]["Content-Length"] == made[1]["Content-Length"] == str(len(made[2])), target
    assert entries(tmp_path)[0] == len(requests)

    # Graph's 302 is not a 200: generated each time (a string), never stored.
    report = f"/v1.0/reports/getYammerActivityUserDetail(date={DAY})"
    for _ in range(2):
        status, headers, _ = fetch(*cached, report)
        assert status == 302 and headers["Location"].endswith(f"/{DAY}.csv")
    assert handler_calls["report"] - calls_before["report"] == 2
    assert entries(tmp_path)[0] == len(requests)


def test_the_cache_is_off_by_default(serve_simulator, handler_calls):
    base_url, token = serve_simulator(SCALE)
    target = f"/reports-download/yammer-activity-user-detail/{DAY}.csv"
    assert fetch(base_url, token, target)[2] == fetch(base_url, token, target)[2]
    assert handler_calls["download"] == 2


def test_faults_apply_to_cached_answers(serve_simulator, tmp_path, handler_calls):
    target = f"/reports-download/yammer-activity-user-detail/{DAY}.csv"
    status, _, whole = fetch(*serve_simulator(SCALE, cache_dir=tmp_path), target)
    assert status == 200 and handler_calls["download"] == 1
    # A second server on the same folder, with transport faults: 429, 500, then a cut-short body,
    # each on the next request to the path; none is stored, and the cut applies to the cached file.
    faulty = serve_simulator(SCALE, "429,500,truncate", cache_dir=tmp_path)
    assert fetch(*faulty, target)[0] == 429
    assert fetch(*faulty, target)[0] == 500
    with pytest.raises(http.client.IncompleteRead) as cut:
        fetch(*faulty, target)
    assert cut.value.partial == whole[:len(whole) // 2]
    assert fetch(*faulty, target)[2] == whole
    assert handler_calls["download"] == 1, "the faulty server answered from the cache"
    assert entries(tmp_path)[0] == 1
    # A wrong token is refused before the cache is looked at.
    assert fetch(faulty[0], "wrong", target)[0] == 401


def test_only_successful_answers_are_stored(serve_simulator, tmp_path, handler_calls):
    base_url, token = serve_simulator(SCALE, cache_dir=tmp_path)
    missing = "/v3/surveys/nope/responses/bulk"
    assert fetch(base_url, token, missing)[0] == 404 and fetch(base_url, token, missing)[0] == 404
    assert handler_calls["bulk"] == 2 and entries(tmp_path)[0] == 0


def test_a_generated_answer_cut_short_is_stored_whole(serve_simulator, tmp_path, handler_calls):
    target = f"/reports-download/yammer-activity-user-detail/{DAY}.csv"
    faulty = serve_simulator(SCALE, "truncate", cache_dir=tmp_path)
    with pytest.raises(http.client.IncompleteRead):
        fetch(*faulty, target)
    assert fetch(*faulty, target)[2] == fetch(*serve_simulator(SCALE), target)[2]
    assert handler_calls["download"] == 2  # the cut one, and the plain server's; not the retry


def test_scales_seeds_and_format_faults_never_share_entries(serve_simulator, tmp_path, handler_calls):
    target = f"/reports-download/yammer-activity-user-detail/{DAY}.csv"
    bodies = set()
    for scale, faults in ((SCALE, ""), (organisation.Scale(employees=21, months=2), ""),
                          (organisation.Scale(employees=20, months=2, seed=7), ""),
                          (organisation.Scale(employees=20, months=3), ""), (SCALE, "concealed_names")):
        base_url, token = serve_simulator(scale, faults, cache_dir=tmp_path)
        bodies.add(fetch(base_url, token, target)[2])
        bodies.add(fetch(base_url, token, target)[2])  # the second from this scale's own entry
    assert len(bodies) == 5 and handler_calls["download"] == 5
    assert entries(tmp_path)[0] == 5
    assert {path.name for path in tmp_path.iterdir()} == {"20x2-seed42", "21x2-seed42", "20x2-seed7",
                                                          "20x3-seed42"}
