"""A client's function cannot make every instance reload its registry.

``mospay_registry`` notifications make each instance read every client and route again and open every
sealed provider credential. PostgreSQL lets any role NOTIFY any channel, so a tenant's function
(``pg_notify`` in a loop, on every payment) could keep every instance reloading: the listener heeds the
switch's own sessions only.
"""

import time

from gateway.hot_path import registry as registry_module


def test_a_tenants_notifications_do_not_reload_the_registry(rt, integrator, monkeypatch):
    reloads = []
    original = registry_module.Registry.reload
    monkeypatch.setattr(registry_module.Registry, "reload", lambda self: (reloads.append(1), original(self)))
    rt.registry.start_listening(3600)
    try:
        time.sleep(1.5)  # the listener's catch-up reload
        caught_up = len(reloads)
        client = rt.registry.client(integrator.client["app_id"])
        with rt.tenants.connection(client) as conn:
            for _ in range(3):
                with conn.transaction():
                    conn.execute("SELECT pg_notify('mospay_registry', 'routes')")
                time.sleep(1.2)
        assert len(reloads) == caught_up, "a tenant's NOTIFY reloaded the registry"
        with rt.db.connection() as conn:  # the switch's own announcement still works
            conn.execute("SELECT pg_notify('mospay_registry', 'routes')")
        time.sleep(1.5)
        assert len(reloads) > caught_up
    finally:
        rt.registry.stop()
