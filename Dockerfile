# The project's image: one image, three commands (`asb worker`, `asb api`, and the Temporal CLI for
# set-up jobs). Build: `docker build -t asb-casework .`; used by deploy/compose.yaml and
# deploy/kubernetes/. Runs as an unprivileged user; the state folder (/var/lib/asb: the print folder,
# local evidence, local signing key) is a volume.
FROM python:3.11-slim-bookworm

# PDF letters: WeasyPrint needs Pango (with HarfBuzz for font subsetting) and a font (as scripts/bootstrap).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
      fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/asb
COPY pyproject.toml README.md ./
COPY worker.py ./
COPY activities/ activities/
COPY api/ api/
COPY asb/ asb/
COPY casefile/ casefile/
COPY clients/ clients/
COPY diagrams/ diagrams/
COPY letters/ letters/
COPY performance/ performance/
COPY policy/ policy/
COPY profiles/ profiles/
COPY statemachine/ statemachine/
COPY web/ web/
COPY workflows/ workflows/
RUN pip install . \
 && ln -s "$(python -c 'from asb.devserver import temporal_cli; print(temporal_cli())')" /usr/local/bin/temporal \
 && useradd --system --uid 10001 --home-dir /var/lib/asb --create-home asb

USER 10001
ENV ASB_STATE_DIR=/var/lib/asb
VOLUME ["/var/lib/asb"]
# 8000: the API; 9464: the worker's /health, /ready and /metrics (ASB_WORKER_HTTP_ADDRESS).
EXPOSE 8000 9464
# asb runs as PID 1 and handles SIGTERM itself: the worker stops polling and lets running activities
# finish (ASB_WORKER_SHUTDOWN_SECONDS); uvicorn lets requests in flight finish.
ENTRYPOINT ["asb"]
CMD ["worker"]
