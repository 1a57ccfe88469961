"""Run the MosPay switch: ``python app.py``.

Starts the embedded PostgreSQL when no ``DATABASE_URL`` is set, migrates,
seeds the demo and its simulator, then serves with gunicorn (threaded
workers) on ``HOST``:``PORT``.
"""

import atexit
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

from gunicorn.app.base import BaseApplication

from config import Config
from gateway import create_app  # noqa: F401 - also the factory `flask --app app` finds


class SwitchServer(BaseApplication):
    """gunicorn with the settings of gunicorn.conf.py; each worker builds its own app."""

    def load_config(self):
        settings = runpy.run_path(str(Path(__file__).with_name("gunicorn.conf.py")))
        for name, value in settings.items():
            if name in self.cfg.settings and value is not None:
                self.cfg.set(name, value)

    def load(self):
        return create_app(Config())


def start_simulator(port):
    """The demo's MTN-MoMo-like simulator, as a child process stopped with us."""
    process = subprocess.Popen([sys.executable, "-m", "gateway.simulator", "--port", str(port)])
    atexit.register(process.terminate)
    return process


def prepare_metrics_dir(config):
    """A fresh directory where every gunicorn worker writes its Prometheus samples."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or str(config.DATA_DIR / "metrics")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory


def main():
    """Prepare the database once, start the simulator, then serve."""
    from gateway import bootstrap

    config = Config()
    config.check()
    prepare_metrics_dir(config)
    bootstrap.prepare_database(config)  # starts the embedded server here, in the parent, once
    if config.DEMO:
        start_simulator(config.SIMULATOR_PORT)
    os.environ["DATABASE_URL"] = config.DATABASE_URL
    print(f"MosPay switch on http://{config.HOST}:{config.PORT}  (POST /api/v1/payment/process)", flush=True)
    SwitchServer().run()


if __name__ == "__main__":
    main()
