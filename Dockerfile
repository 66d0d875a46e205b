# erpload: one image for the three compose services (reference ERP target, Locust master, Locust workers).
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
RUN pip install . && rm -rf build lib/*.egg-info
COPY locustfiles ./locustfiles
COPY profiles ./profiles

# Never run load generators or the target as root: a fixed, unprivileged uid (chown ./reports to it,
# or run the master with `ERPLOAD_UID=$(id -u) docker compose ...`).
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /app erpload && mkdir -p /reports \
    && chown erpload:erpload /reports
USER 10001:10001

EXPOSE 8000 5557 8089
CMD ["erpload", "--help"]
