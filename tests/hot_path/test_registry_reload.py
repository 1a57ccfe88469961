"""A reload rebuilds only what changed: unchanged clients and routes are the same entries as before, and any change
to what a route is built from (its service, its client's name, a credential) gives it a new one."""


def change(rt, statement, params):
    with rt.db.connection() as conn:
        conn.execute(statement, params)


def route_of(rt, client, service):
    return rt.registry.route(client["app_id"], service["microservice"], "collection", "payment")


def test_a_reload_keeps_unchanged_entries_and_rebuilds_changed_ones(rt, admin, downstream):
    client, other_client = admin.create_client(), admin.create_client()
    service, other_service = admin.create_service(downstream.url + "/pay"), admin.create_service(downstream.url + "/x")
    admin.assign(client, service)
    admin.assign(other_client, other_service)
    rt.registry.reload()
    route, other_route = route_of(rt, client, service), route_of(rt, other_client, other_service)
    entry = rt.registry.client(client["app_id"])

    rt.registry.reload()
    assert route_of(rt, client, service) is route and rt.registry.client(client["app_id"]) is entry

    change(rt, "UPDATE mospay.services SET url = %s WHERE microservice = %s",
           (downstream.url + "/moved", service["microservice"]))
    change(rt, "UPDATE mospay.clients SET name = %s WHERE app_id = %s", ("Renamed client", other_client["app_id"]))
    rt.registry.reload()

    moved, renamed = route_of(rt, client, service), route_of(rt, other_client, other_service)
    assert moved is not route and moved.url == downstream.url + "/moved"
    assert renamed is not other_route and renamed.context["client"]["name"] == "Renamed client"
    assert rt.registry.client(other_client["app_id"]).name == "Renamed client"
    assert rt.registry.client(client["app_id"]) is entry  # untouched


def test_a_disabled_route_and_a_deactivated_client_are_seen_at_the_next_reload(rt, admin, downstream):
    client, service = admin.create_client(), admin.create_service(downstream.url + "/pay")
    admin.assign(client, service)
    rt.registry.reload()
    assert route_of(rt, client, service).enabled and rt.registry.client(client["app_id"]).active

    change(rt, "UPDATE mospay.client_services SET enabled = false "
               "WHERE client_id = (SELECT id FROM mospay.clients WHERE app_id = %s)", (client["app_id"],))
    change(rt, "UPDATE mospay.clients SET active = false WHERE app_id = %s", (client["app_id"],))
    rt.registry.reload()

    assert not route_of(rt, client, service).enabled and not rt.registry.client(client["app_id"]).active


def test_a_reload_that_read_before_a_change_never_installs_its_table_after_one_that_read_after(
        rt, admin, downstream, monkeypatch):
    """Reloads run on the listener thread and on request threads (every admin change): the one that read the
    older rows must not swap its table in after a later one's (a disabled route paying on until the next reload)."""
    import threading

    from gateway.hot_path import registry as registry_module

    client, service = admin.create_client(), admin.create_service(downstream.url + "/pay")
    admin.assign(client, service)
    rt.registry.reload()
    snapshot, later = registry_module.Snapshot, []

    def racing_snapshot(*args, **kwargs):  # the first reload, between reading its rows and swapping them in
        if not later:
            def disable_and_reload():
                change(rt, "UPDATE mospay.client_services SET enabled = false WHERE client_id = "
                           "(SELECT id FROM mospay.clients WHERE app_id = %s)", (client["app_id"],))
                rt.registry.reload()
            later.append(threading.Thread(target=disable_and_reload))
            later[0].start()
            later[0].join(1.0)  # done here only if the second reload could run while the first was unfinished
        return snapshot(*args, **kwargs)

    monkeypatch.setattr(registry_module, "Snapshot", racing_snapshot)
    rt.registry.reload()
    later[0].join(10)

    assert not route_of(rt, client, service).enabled
