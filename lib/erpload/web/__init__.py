"""erpload in Locust's web UI: `ui.install_webui` wires guards (security: login beyond loopback,
same-origin state changes), the start form (form), Stop as an interruption (control), the live SLA and
Resources tabs (live) and the login (login)."""
