# Accord Watch. `docker run IMAGE` runs everything in one process; `docker run IMAGE worker` or `... gateway`
# runs one role of a fleet (see "Running at scale" in README.md). Settings come from the environment, never the image.

# Both stages must be the same image: the virtualenv is copied across and points at this stage's Python.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
# Compilers only for a requirement with no wheel for the target platform; they stay in this stage.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -r /tmp/requirements.txt

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 accordwatch \
    && useradd --system --uid 10001 --gid accordwatch --home-dir /app --no-create-home accordwatch
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY requirements.txt ./
COPY bot/ bot/
# Bytecode compiled now, as root: the bot's user cannot write into /app/bot, and need not.
# /app/data: where the default SQLite database lives (mount a volume there for a one-process bot).
RUN python -m compileall -q bot \
    && mkdir data \
    && chown accordwatch:accordwatch data
# Numeric, so that Kubernetes (runAsNonRoot) can tell it is not root without reading /etc/passwd.
USER 10001:10001
ENTRYPOINT ["python", "-m", "bot"]
