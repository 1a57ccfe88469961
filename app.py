"""Run the MosPay switch: ``python app.py``.

Starts the embedded PostgreSQL when no ``DATABASE_URL`` is set, migrates,
seeds the demo and its simulator, starts the background worker (client
callbacks, follow-ups of PENDING/UNKNOWN payments, stale-payment recovery) in
a supervised child process unless ``MOSPAY_WORKER=0``, then serves on
``HOST``:``PORT`` with granian: ``WEB_CONCURRENCY`` worker processes, each running
complete requests on ``MOSPAY_THREADS`` threads (``gateway/serving.py``).

``python app.py --background-worker`` is that child process: what ``flask worker``
and ``flask transactions recover --every 60`` do, in one process.
"""

import atexit
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from config import Config
from gateway import create_app  # noqa: F401 - also the factory `flask --app app` finds

log = logging.getLogger("mospay.app")
BACKGROUND_WORKER_FLAG = "--background-worker"
RECOVER_EVERY_SECONDS = 60


def _stop_at_exit(process):
    """Terminate ``process`` when this process exits, but not when a forked server worker does."""
    owner = os.getpid()
    atexit.register(lambda: os.getpid() == owner and process.terminate())


def start_simulator(port):
    """The demo's MTN MoMo simulator (with the demo's API user), as a child process stopped with us."""
    from gateway.admin.demo import simulator_args

    process = subprocess.Popen([sys.executable, *simulator_args(port)])
    _stop_at_exit(process)
    return process


class Supervisor:
    """Keeps one child process running: started again whenever it dies (sooner if it had run a while)."""

    MAX_PAUSE_SECONDS = 30.0

    def __init__(self, argv):
        self.argv = argv
        self.process = None
        self._owner = os.getpid()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def start(self):
        self.process = self._spawn()
        threading.Thread(target=self._watch, name="worker-supervisor", daemon=True).start()
        atexit.register(self.stop)
        return self

    def _spawn(self):
        self.started_at = time.monotonic()
        # A session of its own: a signal to our process group reaches us first, and we then stop it.
        return subprocess.Popen(self.argv, cwd=Path(__file__).parent, start_new_session=True)

    def _watch(self):
        pause = 1.0
        while not self._stopping.wait(0.5):
            if self.process.poll() is None:
                continue
            # A child that dies at once (database down, bad setting) is restarted less and less often.
            lived = time.monotonic() - self.started_at
            pause = 1.0 if lived > self.MAX_PAUSE_SECONDS else min(pause * 2, self.MAX_PAUSE_SECONDS)
            log.error("the background worker (pid %s) exited with %s; starting it again in %.0f s",
                      self.process.pid, self.process.returncode, pause)
            if self._stopping.wait(pause):
                return
            with self._lock:
                if not self._stopping.is_set():
                    self.process = self._spawn()

    def signal_stop(self):
        """Ask the child to stop (and stop restarting it), without waiting."""
        with self._lock:
            if not self._stopping.is_set():
                self._stopping.set()
                self.process.terminate()

    def stop(self):
        """Stop the child and wait for it; only the process that started it does so."""
        if os.getpid() != self._owner:
            return  # a forked server worker exiting: the child is not its to stop
        self.signal_stop()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def background_worker():
    """The supervised child: run due jobs, and settle stale payments every ``RECOVER_EVERY_SECONDS``."""
    from gateway.follow_up import jobs
    from gateway.follow_up.recovery import recover

    config = Config()
    app = create_app(config)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    parent = os.getppid()

    def recover_on_schedule():
        while not stop.is_set():
            try:
                recover(rt)
            except Exception:  # noqa: BLE001 - try again at the next round (database restarting, …)
                log.exception("stale-payment recovery failed")
            stop.wait(RECOVER_EVERY_SECONDS)

    def watch_parent():
        while not stop.wait(1.0):
            if os.getppid() != parent:  # the switch died without stopping us (SIGKILL): stop too
                stop.set()

    with app.app_context():
        rt = app.extensions["mospay"].start()
        threading.Thread(target=recover_on_schedule, name="recovery", daemon=True).start()
        threading.Thread(target=watch_parent, name="parent-watch", daemon=True).start()
        while not stop.is_set():
            try:
                jobs.work(rt, poll_seconds=config.WORKER_POLL_SECONDS, stop=stop)
            except Exception:  # noqa: BLE001 - a database outage must not end the worker
                log.exception("the job worker failed; retrying")
                stop.wait(1.0)
        rt.stop()


def prepare_metrics_dir(config):
    """A fresh directory where every server worker writes its Prometheus samples."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or str(config.DATA_DIR / "metrics")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory


def main():
    """Prepare the database once, start the simulator and the background worker, then serve."""
    from gateway import bootstrap

    config = Config()
    config.check()
    prepare_metrics_dir(config)
    bootstrap.prepare(config)  # starts the embedded server here, in the parent, once; migrates; seeds
    os.environ["DATABASE_URL"] = config.DATABASE_URL
    if config.DEMO:
        start_simulator(config.SIMULATOR_PORT)
    worker = None
    if config.WORKER:
        worker = Supervisor([sys.executable, str(Path(__file__).resolve()), BACKGROUND_WORKER_FLAG]).start()
    print(f"MosPay switch on http://{config.HOST}:{config.PORT}  (POST /api/v1/payment/process)", flush=True)
    from gateway.serving import serve

    serve(config, on_stop=worker.signal_stop if worker else None)


if __name__ == "__main__":
    if sys.argv[1:] == [BACKGROUND_WORKER_FLAG]:
        background_worker()
    else:
        main()
