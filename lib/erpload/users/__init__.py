"""Role-user building blocks (the modules below import locust, except settings and credentials).

Import from the modules, so `erpload.users.credentials` / `erpload.users.settings` stay free of locust:

- base: `ErpUser`, the abstract role user (login, token renewal, checked template-named requests);
- shopfloor: `ShopFloorUser`, ErpUser plus the dashboard glance and the RBAC probe every site role does;
- ws: `WsUser`, ErpUser plus the live work-order event stream;
- checks: `Probe`, `PROBE_SUFFIX`, `item_ids`, `pop_random` (and the task guard);
- pacing: `paced(wait_time)`, the open-model wrapper every ErpUser's wait_time gets;
- stock: `adjust_stock`, idempotent stock adjustments booked in the Environment's ledger;
- settings: `Settings.from_env`, `configure`, `current` (ERPLOAD_THINK_TIME, _REQUEST_TIMEOUT, _INSECURE_TLS);
- credentials: the account pools per role key.
"""
