"""Exports, imports and bulk stock adjustments as a role user does them: timed to the last byte, checked, tallied.

- `download`: a CSV export read completely before the request is recorded, so its response_time
  runs to the last byte (erpload.users.transport reads the whole body inside the timed call; Locust's
  `stream=True` would stop the clock at the headers). A dedicated session with a larger body cap
  (EXPORT_MAX_BODY) takes year-long exports. Checked: HTTP 200, `text/csv`, the expected header
  row, the expected number of rows (when the caller knows it).
- `import_csv`: a CSV file uploaded as `text/csv`; 201 with `imported` == the rows sent, or, for a
  file made bad on purpose, 422 naming exactly the bad rows (spreadsheet numbering: header = row 1).
- Both record a transfer (bytes, rows, seconds to the last byte) in the Environment's tallies,
  summed across workers into summary.json `load.transfers` with bytes_per_s and rows_per_s.
- `bulk_adjust`: a list of stock adjustments booked in the stock ledger like single ones
  (erpload.users.stock): one Idempotency-Key per entry, pending until a definite answer, one retry
  with the same keys when unsure. The target applies a batch all-or-nothing, so a 4xx drops them all.
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from erpload.api.paths import get_path
from erpload.users.answers import check_answer, evidence
from erpload.users.pacing import CONTROL
from erpload.users.transport import session_for

EXPORT_MAX_BODY = 64 * 2**20  # a year of audit trail runs to several MiB; the default cap is for JSON pages
CSV_TYPES = ("text/csv", "application/csv")


def _ready(user: Any) -> bool:
    """Logged in with a live token (renewed first when due)."""
    return time.monotonic() < user._renew_at or user.login()


def _export_session(user: Any) -> Any:
    session = getattr(user, "_export_client", None)
    if session is None:
        session = user._export_client = session_for(user, max_body=max(EXPORT_MAX_BODY, user.client.max_body))
    return session


def count_rows(body: bytes) -> int:
    """CSV records after the header (quoted newlines counted right)."""
    if b'"' not in body:
        return max(body.count(b"\n") + (0 if body.endswith(b"\n") else 1) - 1, 0) if body else 0
    return max(sum(1 for _ in csv.reader(io.StringIO(body.decode("utf-8", "replace")))) - 1, 0)


def download(
    user: Any,
    operation: str,
    *,
    params: Mapping[str, Any] | None = None,
    header: Sequence[str] = (),
    rows: int | None = None,
) -> int | None:
    """GET a CSV export: the number of data rows, or None (a failure with evidence was recorded)."""
    if not _ready(user):
        return None
    amap = user.api_map
    op = amap.op(operation)
    url = op.render(amap.base_path, {})
    user.last_status = 0
    try:
        with _export_session(user).request(
            op.method,
            url,
            name=op.stats_name,
            params=amap.request_params(op, params),
            headers={**user._auth, "Accept": "text/csv"},
            catch_response=True,
        ) as resp:
            if not _answered(user, resp):
                return None
            body = resp.content or b""
            ctype = (resp.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
            first = body.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
            got = count_rows(body)
            problem = None
            if ctype not in CSV_TYPES:
                problem = f"Content-Type {ctype or '(none)'}, expected text/csv"
            elif header and next(csv.reader([first]), [])[: len(header)] != list(header):
                problem = f"header row {first[:120]!r}, expected {','.join(header)!r}"
            elif rows is not None and got != rows:
                problem = f"{got} data rows, expected {rows}"
            elif rows is None and got < 1:
                problem = "no data rows"
            if problem:
                resp.failure(f"{problem} (HTTP 200, {len(body)} bytes): {evidence(resp)}")
                return None
            resp.success()
            seconds = resp.request_meta["response_time"] / 1000.0
            user.tallies.record_transfer(f"{op.method} {op.stats_name}", len(body), got, seconds)
            return got
    except CONTROL:
        raise
    except Exception as e:  # noqa: BLE001 - the last net, as in ErpUser._request
        user._suite_error(op.stats_name, e)
        return None


def _answered(user: Any, resp: Any) -> bool:
    """HTTP 200 with a body; otherwise a failure with evidence (a non-200 answer is JSON: checked as such)."""
    status = user.last_status = resp.status_code
    exc = resp.request_meta["exception"]
    if status == 200 and exc is None:
        return True
    check_answer(user, resp, (200,), False, (), None, None)  # records why: transport error, HTTP status
    return False


def csv_file(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A CSV file (header first) as UTF-8 bytes."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode()


def import_csv(
    user: Any,
    operation: str,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    bad_rows: Iterable[int] = (),
) -> Any:
    """Upload a CSV file; `bad_rows` (spreadsheet numbers, header = 1) made bad on purpose must be named by a 422."""
    if not _ready(user):
        return None
    amap = user.api_map
    op = amap.op(operation)
    bad = sorted(set(bad_rows))
    data = csv_file(header, rows)

    def validate(body: Any) -> str | None:
        if not bad:
            got = body.get("imported") if isinstance(body, dict) else None
            return None if got == len(rows) else f"imported {got!r}, sent {len(rows)} rows"
        named = _error_rows(amap, body)
        if named is None:
            return "422 without a list of bad rows (rows: [{row, field, detail}])"
        return None if named == bad else f"422 named rows {named}, the bad rows sent are {bad}"

    user.last_status = 0
    try:
        with user.client.request(
            op.method,
            op.render(amap.base_path, {}),
            name=op.stats_name,
            data=data,
            headers={**user._auth, "Content-Type": "text/csv; charset=utf-8"},
            catch_response=True,
        ) as resp:
            body = check_answer(user, resp, (422,) if bad else (201,), False, (), validate, None)
            if body is not None:
                seconds = resp.request_meta["response_time"] / 1000.0
                user.tallies.record_transfer(f"{op.method} {op.stats_name}", len(data), len(rows), seconds)
            return body
    except CONTROL:
        raise
    except Exception as e:  # noqa: BLE001
        user._suite_error(op.stats_name, e)
        return None


def _error_rows(amap: Any, body: Any) -> list[int] | None:
    """The row numbers a 422 names: `rows` beside the error code where the API map says the code is."""
    parent = amap.errors.code.rpartition(".")[0]
    found, rows = get_path(body, f"{parent}.rows" if parent else "rows")
    if not found or not isinstance(rows, list):
        return None
    return sorted({r["row"] for r in rows if isinstance(r, dict) and isinstance(r.get("row"), int)})


def bulk_adjust(user: Any, operation: str, entries: Sequence[tuple[str, int, str]]) -> Any:
    """Adjust several SKUs in one request, every entry booked in the stock ledger (see the module docstring)."""
    tallies = user.tallies
    keyed = [(sku, delta, reason, uuid.uuid4().hex) for sku, delta, reason in entries]
    for sku, delta, _, key in keyed:
        tallies.begin_adjust(sku, key, delta)
    payload = {
        "adjustments": [{"sku": s, "delta": d, "reason": r, "idempotency_key": k} for s, d, r, k in keyed]
    }

    def validate(body: Any) -> str | None:
        results = body.get("results")
        if not isinstance(results, list) or len(results) != len(keyed):
            return (
                f"{len(results) if isinstance(results, list) else 'no'} results for {len(keyed)} adjustments"
            )
        return None

    for _ in range(2):
        body = user.call(operation, json=payload, required=("applied", "results"), validate=validate)
        if body is not None or 400 <= user.last_status < 500:
            for sku, delta, _, key in keyed:  # a definite answer: all applied, or (4xx) none
                tallies.end_adjust(sku, key)
                if body is not None:
                    tallies.record_stock(sku, delta=delta)
            return body
    return None  # no answer twice: the entries stay pending (they may have applied)
