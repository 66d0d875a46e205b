"""Pure building blocks: errors with exit codes, units, histograms, snapshots, timelines, series, leak maths, fault plans, verdict.

Imports none of locust, gevent, flask, psutil or requests (enforced by the import contract in pyproject.toml)."""
