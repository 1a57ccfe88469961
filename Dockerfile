# MosPay switch, production image: granian on a PostgreSQL given by DATABASE_URL.
# `python app.py` migrates, creates the initial admin, starts the background worker
# (MOSPAY_WORKER=0 where `flask worker` runs apart) and serves (gateway/serving.py).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 PORT=5000 MOSPAY_ENV=production MOSPAY_DEMO=0 \
    MOSPAY_DATA_DIR=/app/instance PROMETHEUS_MULTIPROC_DIR=/tmp/mospay-metrics

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --system --uid 10001 --home /app mospay \
    && mkdir -p /app/instance /tmp/mospay-metrics \
    && chown -R mospay /app/instance /app/routes_config /tmp/mospay-metrics
USER mospay

EXPOSE 5000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:5000/ready', timeout=2).status != 200)"
CMD ["python", "app.py"]
