"""A Prometheus instant-query client that a broken or hostile server cannot hurt.

``estimate --prometheus`` talks to a URL the user gives, often through a port-forward to a
server nobody here controls. So every answer is bounded and checked before it is used:

* **size**: at most :data:`MAX_BODY_BYTES` are read (a 300 MB answer is refused, not loaded);
* **time**: one deadline for the whole exchange (:data:`DEADLINE_SECONDS`), checked between
  reads, so a server that drips one byte every 20 seconds is cut off;
* **redirects**: followed only to the same scheme, host and port;
* **shape**: the body is the API's ``{"status": "success", "data": {"resultType": "vector",
  "result": [...]}}`` with each sample ``{"metric": {label: text}, "value": [time, "number"]}``
  (https://prometheus.io/docs/prometheus/latest/querying/api/#instant-queries); anything else,
  nesting too deep for the JSON parser included, is an error naming what was wrong;
* **numbers**: ``NaN`` and infinities are refused with the series named (a NaN busy fraction
  would otherwise read as 0% busy, which favours sharing).
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..errors import ConfigurationError, printable

#: Largest answer read (a month of per-pod DCGM series for thousands of pods is a few MiB).
MAX_BODY_BYTES: Final = 32 * 1024 * 1024
#: The whole exchange (connect, headers, body) of one query.
DEADLINE_SECONDS: Final = 60.0
_READ_CHUNK: Final = 64 * 1024


@dataclass(frozen=True)
class Sample:
    """One series of an instant vector: its labels and its value."""

    labels: Mapping[str, str]
    value: float

    def describe(self) -> str:
        """``{namespace="ml", pod="chat-0"}`` (for errors)."""
        return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(self.labels.items())) + "}"


def query_vector(url: str, query: str, at: float | None = None) -> list[Sample]:
    """The instant vector ``query`` evaluates to at ``at`` (now by default) on the Prometheus
    at ``url``. Raises ``ConfigurationError`` (field ``--prometheus``) for anything but a
    well-formed, bounded answer."""
    params = {"query": query}
    if at is not None:
        params["time"] = f"{at:.3f}"
    address = url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode(params)
    deadline = time.monotonic() + DEADLINE_SECONDS
    opener = urllib.request.build_opener(_SameOriginRedirects(address))
    try:
        with opener.open(address, timeout=_remaining(url, deadline)) as response:
            body = _read(response, url, deadline)
    except urllib.error.HTTPError as error:
        detail = _error_text(error, url, deadline)
        raise _error(url, detail) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise _error(url, f"cannot be reached ({reason})") from None
    return _samples(_decode(body, url), url)


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to the scheme, host and port of the first address."""

    def __init__(self, address: str) -> None:
        self.origin = _origin(address)

    def redirect_request(  # type: ignore[no-untyped-def]
        self, req, fp, code, msg, headers, newurl
    ):
        if _origin(newurl) != self.origin:
            raise urllib.error.URLError(
                f"redirected to another server ({printable(newurl)[:200]}); not followed"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _origin(address: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(address)
    return parts.scheme, parts.netloc.lower()


def _remaining(url: str, deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise _error(url, f"did not answer within {DEADLINE_SECONDS:.0f} s")
    return left


def _read(response: Any, url: str, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        # One underlying receive per call (each bounded by the socket timeout the connection
        # got, at most the deadline): the deadline is checked between them.
        chunk = response.read1(_READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _error(url, f"answered more than {MAX_BODY_BYTES >> 20} MiB; not read further")
        chunks.append(chunk)
        _remaining(url, deadline)


def _error_text(error: urllib.error.HTTPError, url: str, deadline: float) -> str:
    try:
        body = _decode(_read(error, url, deadline), url)
    except ConfigurationError:
        return f"HTTP {error.code}"
    message = body.get("error") if isinstance(body, dict) else None
    return f"HTTP {error.code}: {message}" if isinstance(message, str) else f"HTTP {error.code}"


def _decode(body: bytes, url: str) -> Any:
    try:
        return json.loads(body)
    except RecursionError:
        raise _error(url, "answered JSON nested too deeply to be a query result") from None
    except ValueError:
        raise _error(url, "answered something that is not JSON") from None


def _samples(body: Any, url: str) -> list[Sample]:
    if not isinstance(body, dict):
        raise _error(url, f"answered a JSON {type(body).__name__}, not an API response")
    if body.get("status") != "success":
        message = body.get("error")
        raise _error(url, message if isinstance(message, str) else "no status: success")
    data = body.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "vector":
        raise _error(url, "answered no instant vector (data.resultType is not vector)")
    result = data.get("result")
    if not isinstance(result, list):
        raise _error(url, "answered no list of samples (data.result)")
    samples = []
    for index, item in enumerate(result):
        where = f"data.result[{index}]"
        metric = item.get("metric") if isinstance(item, dict) else None
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(metric, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metric.items()
        ):
            raise _error(url, f"{where} has no metric labels of text")
        if not (isinstance(value, list) and len(value) == 2 and isinstance(value[1], str)):
            raise _error(url, f"{where} has no [time, value] pair")
        sample = Sample(dict(metric), 0.0)
        try:
            number = float(value[1])
        except ValueError:
            raise _error(url, f"{sample.describe()} has a value that is no number") from None
        if not math.isfinite(number):
            raise _error(
                url,
                f"{sample.describe()} is {value[1]}: a measurement must be a finite number "
                "(check the series for gaps or a division by zero)",
            )
        samples.append(Sample(sample.labels, number))
    return samples


def _error(url: str, reason: str) -> ConfigurationError:
    return ConfigurationError(
        field="--prometheus",
        value=url,
        rule=f"Prometheus answered: {printable(reason)[:300]}",
        fix="check the URL (the Prometheus server, not Grafana) and that it is running",
    )
