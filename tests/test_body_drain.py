"""A body over THREATGRAPH_MAX_BODY_BYTES gets the 413 JSON error in every common client,
including those that read the answer only after sending all of it (api/body_drain.py)."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import subprocess
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import httpx2 as httpx

from api.body_drain import DRAIN_LIMIT_BYTES, drain_refused_body
from tests.live_server import LiveApi

FIVE_MB_BODY = json.dumps({"query": "{ __typename }" + " " * (5 * 1024 * 1024)}).encode()
TOO_LARGE = {
    "errors": [
        {
            "message": "request body is larger than 1000000 bytes",
            "extensions": {"code": "REQUEST_TOO_LARGE"},
        }
    ]
}


def test_urllib_gets_the_413_for_a_5_mb_body(live_api: LiveApi) -> None:
    request = urllib.request.Request(
        f"{live_api.url}/graphql",
        data=FIVE_MB_BODY,
        headers={"content-type": "application/json"},
    )
    try:
        urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as error:
        assert (error.code, json.loads(error.read())) == (413, TOO_LARGE)
    else:
        raise AssertionError("a 5 MB body was accepted")


def test_http_client_gets_the_413_for_a_5_mb_body(live_api: LiveApi) -> None:
    address = urlsplit(live_api.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        connection.request("POST", "/graphql", FIVE_MB_BODY, {"content-type": "application/json"})
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())) == (413, TOO_LARGE)
    finally:
        connection.close()


def test_httpx_gets_the_413_for_a_5_mb_body(live_api: LiveApi) -> None:
    response = httpx.post(
        f"{live_api.url}/graphql",
        content=FIVE_MB_BODY,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert (response.status_code, response.json()) == (413, TOO_LARGE)


NODE_FETCH = """
const body = JSON.stringify({query: "{ __typename }" + " ".repeat(5 * 1024 * 1024)});
const response = await fetch(process.argv[1], {
  method: "POST", headers: {"content-type": "application/json"}, body,
});
console.log(JSON.stringify({status: response.status, body: await response.json()}));
"""


def test_node_fetch_gets_the_413_for_a_5_mb_body(live_api: LiveApi) -> None:
    # Node is on every machine `make install` runs on (it installs the federation tests).
    answered = subprocess.run(
        ["node", "--input-type=module", "-e", NODE_FETCH, f"{live_api.url}/graphql"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(answered.stdout) == {"status": 413, "body": TOO_LARGE}


def test_a_client_that_expects_100_continue_is_refused_before_sending(
    live_api: LiveApi,
) -> None:
    address = urlsplit(live_api.url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(FIVE_MB_BODY)
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 413 Request Entity Too Large"
    assert b"connection: close" in head.lower().split(b"\r\n")
    assert json.loads(body) == TOO_LARGE


def test_the_drain_stops_at_its_byte_limit() -> None:
    chunk = b" " * 65536
    received: list[int] = []

    async def endless_body() -> dict[str, object]:
        received.append(len(chunk))
        return {"type": "http.request", "body": chunk, "more_body": True}

    scope = {"type": "http", "headers": []}
    assert asyncio.run(drain_refused_body(scope, endless_body)) is False
    assert sum(received) == DRAIN_LIMIT_BYTES + len(chunk)
