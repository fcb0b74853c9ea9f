# DealNode image: dependencies first (cached layer), then the code; runs as a numeric non-root
# user, since Kubernetes' runAsNonRoot cannot verify a user given by name.
# Models are not baked in: mount a registry at /srv/dealnode/models (see compose.yaml).
# The image serves the API by default and never migrates on start: run `dealnode db upgrade`
# once per release as its own step (deploy/migrate-job.yaml, compose's `migrate` service).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Dependencies only: a stub package lets pip resolve them before the code is copied.
COPY pyproject.toml README.md ./
RUN mkdir app training && touch app/__init__.py training/__init__.py \
    && pip install . \
    && pip uninstall -y dealnode
COPY app ./app
COPY training ./training
RUN pip install --no-deps .

FROM python:3.11-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 dealnode \
    && useradd --uid 10001 --gid 10001 --home-dir /srv/dealnode --no-create-home \
        --shell /usr/sbin/nologin dealnode \
    && mkdir -p /srv/dealnode/models /srv/dealnode/var \
    && chown -R 10001:10001 /srv/dealnode
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DEALNODE_MODELS_DIR=/srv/dealnode/models \
    DEALNODE_DATABASE_URL=sqlite:////srv/dealnode/var/dealnode.db
WORKDIR /srv/dealnode
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"]
CMD ["dealnode", "serve", "--host", "0.0.0.0", "--port", "8000"]
