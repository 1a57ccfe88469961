"""gunicorn settings for MosPay: `python app.py` uses them, and so does
`gunicorn -c gunicorn.conf.py` in production (Dockerfile).

Threaded workers (gthread): a payment spends most of its life waiting on
PostgreSQL and the provider, so threads overlap that wait cheaply; one
worker per core keeps the CPU busy without oversubscribing it.
"""

from config import Config

_config = Config()

wsgi_app = "gateway:create_app()"
bind = f"{_config.HOST}:{_config.PORT}"
workers = _config.WORKERS
worker_class = "gthread"
threads = _config.THREADS
timeout = 120
graceful_timeout = 30
keepalive = 5
accesslog = None  # every request is already logged (JSON) and counted (/metrics)


def post_worker_init(worker):
    """Open this worker's pools and load its route table before the first request (not at import)."""
    worker.wsgi.extensions["mospay"].start()


def child_exit(server, worker):
    """Forget a dead worker's Prometheus samples."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
