"""estimate's Prometheus client against a server that answers wrong, huge, slow or elsewhere.

The well-formed answers come from a real Prometheus (tests/test_estimate.py); here a small
HTTP server plays a broken or hostile one, each answer one that reached a traceback, ate a
gigabyte, hung or was followed to another host before."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from eks_gpu_sharing.errors import ConfigurationError
from eks_gpu_sharing.estimate import prometheus
from eks_gpu_sharing.estimate.prometheus import query_vector

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


@pytest.fixture
def server() -> Iterator[Callable[[Handler], str]]:
    """Serve one handler on a free port of 127.0.0.1; return its URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def serve(handle: Handler) -> str:
        class Answer(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield serve
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def body(payload: bytes, status: int = 200) -> Handler:
    def handle(request: http.server.BaseHTTPRequestHandler) -> None:
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    return handle


def vector(*samples: Any) -> bytes:
    return json.dumps(
        {"status": "success", "data": {"resultType": "vector", "result": list(samples)}}
    ).encode()


GOOD = {"metric": {"pod": "chat-0", "modelName": "NVIDIA L4"}, "value": [1.0, "2048"]}


def test_a_well_formed_answer_is_read(server: Callable[[Handler], str]) -> None:
    [sample] = query_vector(server(body(vector(GOOD))), "q")
    assert sample.value == 2048.0 and sample.labels["pod"] == "chat-0"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"[]", "not an API response"),
        (b'{"status": "success", "data": {"resultType": "vector", "result": null}}', "data.result"),
        (
            b'{"status": "success", "data": {"resultType": "matrix", "result": []}}',
            "instant vector",
        ),
        (b'{"status": "error", "error": "bad_data: parse error"}', "bad_data: parse error"),
        (vector({"value": [1, "2"]}), "no metric labels"),
        (vector({"metric": {"pod": 3}, "value": [1, "2"]}), "no metric labels"),
        (vector({"metric": {}, "value": [1, 2]}), "no [time, value] pair"),
        (vector({"metric": {"pod": "a"}, "value": [1, "lots"]}), "no number"),
        (vector({"metric": {"pod": "a"}, "value": [1, "NaN"]}), 'pod="a"} is NaN'),
        (vector({"metric": {"pod": "a"}, "value": [1, "+Inf"]}), "finite number"),
        (b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
        (b"<html>Grafana</html>", "not JSON"),
    ],
    ids=[
        "list",
        "null-result",
        "matrix",
        "error",
        "no-metric",
        "label-not-text",
        "no-pair",
        "not-a-number",
        "nan",
        "inf",
        "deep",
        "html",
    ],
)
def test_a_malformed_answer_is_an_error_not_a_traceback(
    server: Callable[[Handler], str], payload: bytes, message: str
) -> None:
    with pytest.raises(ConfigurationError, match="Prometheus answered") as caught:
        query_vector(server(body(payload)), "q")
    assert message in caught.value.rule


def test_an_error_status_with_control_characters_is_escaped(
    server: Callable[[Handler], str],
) -> None:
    payload = json.dumps({"status": "error", "error": "x\n- forged: line\x1b[2J"}).encode()
    with pytest.raises(ConfigurationError) as caught:
        query_vector(server(body(payload, status=400)), "q")
    assert "\n" not in str(caught.value) and "\x1b" not in str(caught.value)


def test_a_huge_answer_is_not_read_whole(
    server: Callable[[Handler], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prometheus, "MAX_BODY_BYTES", 1024 * 1024)
    huge = vector(*([GOOD] * 40_000))  # about 3 MiB
    with pytest.raises(ConfigurationError, match="more than 1 MiB"):
        query_vector(server(body(huge)), "q")


def test_a_dripping_server_is_cut_off_at_the_deadline(
    server: Callable[[Handler], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prometheus, "DEADLINE_SECONDS", 2.0)

    def drip(request: http.server.BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Length", "1000")
        request.end_headers()
        for _ in range(1000):
            request.wfile.write(b" ")
            request.wfile.flush()
            time.sleep(0.5)

    start = time.monotonic()
    with pytest.raises(ConfigurationError, match="did not answer within 2 s"):
        query_vector(server(drip), "q")
    assert time.monotonic() - start < 10


def test_a_redirect_to_another_host_is_not_followed(server: Callable[[Handler], str]) -> None:
    target = server(body(vector(GOOD)))

    def redirect_to(location: str) -> Handler:
        def handle(request: http.server.BaseHTTPRequestHandler) -> None:
            request.send_response(302)
            request.send_header("Location", location)
            request.send_header("Content-Length", "0")
            request.end_headers()

        return handle

    elsewhere = server(redirect_to(target.replace("127.0.0.1", "localhost") + "/api/v1/query"))
    with pytest.raises(ConfigurationError, match="redirected to another server"):
        query_vector(elsewhere, "q")
    same = server(redirect_to(target + "/api/v1/query?query=q"))
    with pytest.raises(ConfigurationError, match="redirected to another server"):
        query_vector(same, "q")  # another port is another server
