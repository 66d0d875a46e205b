# erpload: one image for every service of docker-compose.yml and every pod of deploy/k8s/ (the reference
# ERP target, the Locust master, the workers). The role users and the shipped profiles live in the
# installed package; /app/locustfiles links to them, /app/profiles and /app/api-maps are defaults that
# compose and Kubernetes mount over (a new profile or API map needs no rebuild).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ERPLOAD_LOCUSTFILES=/app/locustfiles \
    ERPLOAD_PROFILES=/app/profiles

WORKDIR /app
COPY pyproject.toml README.md ./
COPY lib ./lib
RUN pip install . \
    && pkg="$(python -c 'import erpload, os; print(os.path.dirname(erpload.__file__))')" \
    && ln -s "$pkg/roles" /app/locustfiles \
    && cp -r "$pkg/profiles" /app/profiles \
    && rm -rf build lib
COPY examples/api-maps ./api-maps
COPY deploy/wait_for_target.py ./bin/wait_for_target.py

# Never run load generators or the target as root: a fixed, unprivileged uid (chown ./reports to it,
# or run with `ERPLOAD_UID=$(id -u) docker compose ...`; Kubernetes: runAsUser + fsGroup 10001).
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /app erpload && mkdir -p /reports \
    && chown erpload:erpload /reports
USER 10001:10001

EXPOSE 8000 5557 8089
CMD ["erpload", "--help"]
