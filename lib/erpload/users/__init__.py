"""Role-user building blocks (the modules below import locust, except settings, credentials and api).

Import from the modules, so `erpload.users.credentials` / `.settings` / `.api` stay free of locust:

- base: `ErpUser`, the abstract role user (login, token renewal, operations by name: `call`);
- api: `configure_api`, `current_api`, `api_for(environment)`: the API map users speak through;
- answers: `check_answer`, `evidence`: one answer checked (status, JSON, the map's shape, fields);
- opspec: per-operation request specs computed once per API map (the cheap half of `call`);
- shopfloor: `ShopFloorUser`, ErpUser plus the dashboard glance and the RBAC probe every site role does;
- ws: `WsUser`, ErpUser plus the live work-order event stream;
- checks: `Probe`, `PROBE_SUFFIX`, `item_ids`, `pop_random` (and the task guard);
- pacing: `paced(wait_time)`, the open-model wrapper every ErpUser's wait_time gets;
- stock: `adjust_stock`, idempotent stock adjustments booked in the Environment's ledger;
- settings: `Settings.from_env`, `configure`, `current` (ERPLOAD_THINK_TIME, _REQUEST_TIMEOUT, _INSECURE_TLS);
- credentials: the account pools per pool key (any name), `check_roles`.
"""
