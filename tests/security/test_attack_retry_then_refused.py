"""A retried call whose earlier attempt may have reached the provider is never "nothing sent".

Routing fails over (and a payment is called FAILED) only when nothing reached the provider. With a
retry policy, the first attempt can time out at the provider (money may move) and the next one be
refused (the provider went down): the call as a whole was sent, whatever the last attempt says.
"""

import socket
import threading
import time

from gateway.hot_path.forwarder import FailureKind, Forwarder


def _timeout_then_gone():
    """A provider that takes the first request, never answers it, then stops listening."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def serve():
        conn, _ = listener.accept()
        conn.recv(65536)  # the payment arrived: from here on it may be executed
        listener.close()  # the next connection is refused
        time.sleep(1.5)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{port}/pay"


def test_a_timeout_followed_by_a_refused_retry_counts_as_sent():
    url = _timeout_then_gone()
    forwarder = Forwarder()
    spec = {"url": url, "method": "POST", "headers": {}, "body": {"amount": "1500"}, "timeout_ms": 300}

    result = forwarder.call(spec, {"max_attempts": 2, "on": ["timeout", "connection"], "allow_post": True})

    assert result.failure is not FailureKind.NOTHING_SENT
    assert result.sent, "the first attempt reached the provider: failing over would pay twice"
    forwarder.close()
