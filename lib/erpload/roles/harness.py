"""The one module that exposes the load shape and installs the erpload plugin for `locust -f locustfiles/`."""

from erpload.plugin import ProfileShape  # noqa: F401  (Locust discovers the shape class here)
