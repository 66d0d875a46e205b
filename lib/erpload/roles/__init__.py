"""The shipped role users (one module per department) and `harness.py`, which installs erpload.

Locust loads this directory with `-f` (it skips files starting with `_`, so this one); `erpload run`
finds it with `importlib.resources`, also from an installed wheel. In the repository, `locustfiles/`
is a link to here.
"""
