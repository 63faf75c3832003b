"""The relationship map's model: graph, filters, paths, connectors, deals, inferred ties, org charts."""

from __future__ import annotations

import crm_workspace_relationships as rel
import pytest
from crm_workspace_relationships import editing, layout, network, org_chart, queries

from crm_workspace import NotFound, ValidationError


def person(ws, name: str, org: int | None = None, kind: str = "customer", title: str | None = None) -> str:
    row = ws.store.insert(
        "contacts",
        {"first_name": name, "last_name": "", "organization_id": org, "stakeholder_type": kind, "title": title},
    )
    return f"contacts:{row['id']}"


def org(ws, name: str) -> int:
    return ws.store.insert("organizations", {"name": name})["id"]


def tie(ws, a: str, b: str, strength: int = 3, kind: str = "works_with") -> dict:
    return editing.add_relationship(ws, a, b, kind, strength)


def cid(node: str) -> int:
    return queries.parse_node(node)[1]


def test_path_prefers_strong_ties(workspace):
    a, b, c = person(workspace, "A"), person(workspace, "B"), person(workspace, "C")
    tie(workspace, a, b, strength=1)  # direct but weak: cost 5
    tie(workspace, a, c, strength=5)  # two strong ties: cost 1 + 1
    tie(workspace, c, b, strength=5)
    steps = network.introduction_path(network.state(workspace).graph, a, b)
    assert [s["to"] for s in steps] == [c, b]
    assert [s["strength"] for s in steps] == [5, 5]
    frame = workspace.df("relationships.path", origin=a, target=b)
    assert list(frame["to_name"]) == ["C", "B"]
    # with only strong ties allowed, the weak direct tie is gone too
    assert len(workspace.df("relationships.path", origin=a, target=b, min_strength=4)) == 2


def test_path_errors(workspace):
    a, b = person(workspace, "A"), person(workspace, "B")
    full = network.state(workspace).graph
    with pytest.raises(NotFound, match="no introduction path"):
        network.introduction_path(full, a, b)
    with pytest.raises(NotFound, match="not on the map"):
        network.introduction_path(full, a, "contacts:999")
    assert network.introduction_path(full, a, a) == []


def test_connectors_and_articulation_points_on_a_known_graph(workspace):
    # a - b - c - d, c - e, d - e: b and c are cut points; c lies on most shortest paths
    a, b, c, d, e = (person(workspace, n) for n in "ABCDE")
    for x, y in ((a, b), (b, c), (c, d), (c, e), (d, e)):
        tie(workspace, x, y)
    st = network.state(workspace)
    assert network.articulation_points(st.graph) == {b, c}
    rows = network.connectors(st)
    assert [r["node"] for r in rows[:2]] == [c, b]
    assert rows[0]["betweenness"] == pytest.approx(4 / 6, abs=1e-4)  # pairs through c: a-d, a-e, b-d, b-e of 6
    assert {r["node"] for r in rows if r["cut"]} == {b, c}
    frame = workspace.df("relationships.connectors", top=3)
    assert list(frame["name"])[:2] == ["C", "B"]


def test_isolated_stakeholders(workspace):
    acme = org(workspace, "Acme")
    a, b = person(workspace, "A", acme), person(workspace, "B", acme)
    lonely = person(workspace, "Lonely", acme)
    tie(workspace, a, b)
    names = [r["name"] for r in queries.isolated(workspace)]
    assert names == ["Lonely"]  # membership of an organization is not a relationship
    assert queries.isolated_count(workspace) == 1
    assert lonely in network.state(workspace).graph


def test_single_threaded_deals(workspace):
    acme, other = org(workspace, "Acme"), org(workspace, "Other")
    p1, p2 = person(workspace, "P1", acme), person(workspace, "P2", acme)
    outsider = person(workspace, "Out", other)
    deal = workspace.store.insert("deals", {"title": "Big deal", "organization_id": acme, "status": "open"})
    lone = workspace.store.insert("deals", {"title": "Cold deal", "organization_id": other, "status": "open"})
    workspace.store.insert("deals", {"title": "Won deal", "organization_id": acme, "status": "won"})
    tie(workspace, p1, p2)  # inside Acme: not a thread
    found = {r["title"]: r for r in queries.single_threaded_deals(workspace)}
    assert found["Big deal"]["threads"] == 0 and found["Cold deal"]["threads"] == 0
    tie(workspace, p1, outsider)
    found = {r["title"]: r for r in queries.single_threaded_deals(workspace)}
    assert found["Big deal"]["threads"] == 1
    assert found["Big deal"]["thread_contact"] == "P1"
    assert found["Cold deal"]["threads"] == 1  # Out is Other's only thread, through P1
    assert "Won deal" not in found
    tie(workspace, p2, outsider, kind="influences")
    titles = set(workspace.df("relationships.single_threaded")["title"])
    assert titles == {"Cold deal"}  # Acme now has two threads; Other still only Out
    assert deal["id"] and lone["id"]


def test_inferred_ties_from_shared_activities(workspace):
    acme = org(workspace, "Acme")
    a, b, c, d, e = (person(workspace, n, acme) for n in "ABCDE")
    deal = workspace.store.insert("deals", {"title": "D", "organization_id": acme})["id"]
    act = workspace.store.insert_many
    act(
        "activities",
        [
            {"kind": "call", "contact_id": cid(a), "deal_id": deal, "occurred_at": "2026-01-05T10:00:00Z"},
            {"kind": "note", "contact_id": cid(b), "deal_id": deal, "occurred_at": "2026-02-01T10:00:00Z"},
            # same organization, same day, both meetings -> c and d met
            {"kind": "meeting", "contact_id": cid(c), "organization_id": acme, "occurred_at": "2026-03-01T09:00:00Z"},
            {"kind": "meeting", "contact_id": cid(d), "organization_id": acme, "occurred_at": "2026-03-01T15:00:00Z"},
            # e's meeting is another day; a call the same day is another kind
            {"kind": "meeting", "contact_id": cid(e), "organization_id": acme, "occurred_at": "2026-03-02T09:00:00Z"},
            {"kind": "call", "contact_id": cid(e), "organization_id": acme, "occurred_at": "2026-03-01T09:00:00Z"},
        ],
    )
    pairs = {(r["source_name"], r["target_name"]) for r in queries.inferred_ties(workspace)}
    assert pairs == {("A", "B"), ("C", "D")}
    suggestion = next(r for r in queries.inferred_ties(workspace) if r["source_name"] == "A")
    made = editing.accept_inferred(workspace, suggestion["source_id"], suggestion["target_id"], suggestion["shared"])
    assert (made["kind"], made["strength"]) == ("works_with", 2)
    assert {(r["source_name"], r["target_name"]) for r in queries.inferred_ties(workspace)} == {("C", "D")}
    assert workspace.store.scalar("SELECT count(*) FROM audit_log WHERE table_name = 'relationships'") == 1


def test_org_chart_tree(workspace):
    acme, other = org(workspace, "Acme"), org(workspace, "Other")
    ceo = person(workspace, "Ceo", acme, title="CEO")
    vp = person(workspace, "Vp", acme)
    eng = person(workspace, "Eng", acme)
    solo = person(workspace, "Solo", acme)
    outside = person(workspace, "Boss elsewhere", other)
    tie(workspace, vp, ceo, kind="reports_to")
    tie(workspace, eng, vp, kind="reports_to")
    tie(workspace, ceo, eng, kind="reports_to")  # a cycle: refused where it closes
    tie(workspace, solo, outside, kind="reports_to")  # outside the organization: ignored
    roots = org_chart.org_chart(workspace, acme)
    names = {r["name"]: r for r in roots}
    assert set(names) == {"Ceo", "Solo"}
    assert names["Ceo"]["title"] == "CEO"
    assert [c["name"] for c in names["Ceo"]["children"]] == ["Vp"]
    assert [c["name"] for c in names["Ceo"]["children"][0]["children"]] == ["Eng"]
    with pytest.raises(NotFound):
        org_chart.org_chart(workspace, 999)


def test_org_chart_html_escapes_names(workspace):
    from crm_workspace_relationships.views import org_chart_html

    acme = org(workspace, "Acme")
    person(workspace, "<script>alert(1)</script>", acme, title="<b>boss</b>")
    text = org_chart_html(org_chart.org_chart(workspace, acme))
    assert "<script>" not in text and "&lt;script&gt;" in text and "&lt;b&gt;boss" in text


def test_validation_errors(workspace):
    a, b = person(workspace, "A"), person(workspace, "B")
    with pytest.raises(ValidationError, match="itself"):
        tie(workspace, a, a)
    with pytest.raises(ValidationError, match="does not exist"):
        tie(workspace, a, "contacts:999")
    for bad in (0, 6):
        with pytest.raises(ValidationError, match="1 to 5"):
            tie(workspace, a, b, strength=bad)
    first = tie(workspace, a, b)
    with pytest.raises(ValidationError, match="already exists"):
        tie(workspace, a, b)
    tie(workspace, b, a)  # the other direction is another relationship
    other = tie(workspace, a, b, kind="influences")
    with pytest.raises(ValidationError, match="already exists"):
        editing.update_relationship(workspace, other["id"], {"kind": "works_with"}, other["version"])
    editing.update_relationship(workspace, first["id"], {"strength": 5, "notes": "close"}, first["version"])
    assert workspace.store.scalar("SELECT count(*) FROM relationships") == 3


def test_cache_rebuilds_when_data_changes(workspace):
    a, b = person(workspace, "A"), person(workspace, "B")
    first = network.state(workspace)
    assert network.state(workspace) is first
    assert first.graph.number_of_edges() == 0
    row = tie(workspace, a, b, strength=4)
    second = network.state(workspace)
    assert second is not first and second.graph[a][b]["strength"] == 4
    editing.update_relationship(workspace, row["id"], {"strength": 2}, row["version"])
    assert network.state(workspace).graph[a][b]["strength"] == 2
    editing.delete_relationship(workspace, row["id"], row["version"] + 1)
    assert not network.state(workspace).graph.has_edge(a, b)
    assert set(network.state(workspace).pos) == {a, b}


def test_the_cache_reads_the_tables_again_only_after_a_commit(workspace, monkeypatch):
    """Each visit of the map asked for the tables' signature, a read of every row (85 ms at 100k contacts)."""
    a, b = person(workspace, "A"), person(workspace, "B")
    first = network.state(workspace)
    reads = []
    signature = queries.signature
    monkeypatch.setattr(queries, "signature", lambda ws: reads.append(1) or signature(ws))
    assert network.state(workspace) is first and network.state(workspace) is first
    assert reads == []  # nothing committed: nothing read
    workspace.store.update("contacts", int(a.split(":")[1]), {"title": "CEO"})
    assert network.state(workspace) is not first and len(reads) == 1  # a commit: read, changed, rebuilt
    tie(workspace, a, b, strength=4)
    assert network.state(workspace).graph[a][b]["strength"] == 4


def test_filters_ego_and_public_graph(workspace):
    acme = org(workspace, "Acme")
    a = person(workspace, "A", acme, kind="executive")
    b = person(workspace, "B", kind="investor")
    c = person(workspace, "C", kind="media")
    d = person(workspace, "D", kind="media")
    tie(workspace, a, b, strength=5, kind="influences")
    tie(workspace, b, c, strength=2)
    tie(workspace, c, d, strength=4)
    full = rel.graph(workspace)
    assert set(full) == {a, b, c, d, "organizations:1"}
    assert full[a]["organizations:1"]["ties"] == {"member_of": (3, None)}
    assert "x" in full.nodes[a] and "y" in full.nodes[a]
    strong = rel.graph(workspace, min_strength=4)
    assert set(strong.edges()) == {(a, b), (c, d)} or {frozenset(e) for e in strong.edges()} == {
        frozenset((a, b)),
        frozenset((c, d)),
    }
    assert set(rel.graph(workspace, stakeholder_types=["media"])) == {c, d}
    assert rel.graph(workspace, kinds=["influences"]).number_of_edges() == 1
    assert set(rel.graph(workspace, center=a, hops=1)) == {a, b, "organizations:1"}
    assert set(rel.graph(workspace, center=a, hops=2)) == {a, b, c, "organizations:1"}
    assert set(rel.graph(workspace, center=a, hops=3, min_strength=3)) == {a, b, "organizations:1"}
    assert set(rel.graph(workspace, organization_id=acme)) == {a, "organizations:1"}
    edges = workspace.df("relationships.edges", kinds=["works_with"])
    assert sorted(edges["strength"]) == [2, 4]
    with pytest.raises(TypeError):
        rel.graph(workspace, colour="red")
    with pytest.raises(NotFound):
        rel.graph(workspace, center="contacts:999")


def test_cap_keeps_the_most_connected(workspace):
    hub = person(workspace, "Hub")
    spokes = [person(workspace, f"S{i}") for i in range(6)]
    for s in spokes:
        tie(workspace, hub, s)
    st = network.state(workspace)
    nodes, capped = network.capped(st.graph, st, limit=3, keep=[spokes[5]])
    assert capped and len(nodes) == 3 and hub in nodes and spokes[5] in nodes
    assert network.capped(st.graph, st, limit=10) == (list(st.graph), False)


def test_search_nodes_is_plain_text(workspace):
    org(workspace, "100% Acme_Labs")
    person(workspace, "Zoë")
    assert [r["name"] for r in queries.search_nodes(workspace, "zo")] == ["Zoë"] or queries.search_nodes(
        workspace, "Zo"
    )
    assert [r["node"] for r in queries.search_nodes(workspace, "100%")] == ["organizations:1"]
    assert queries.search_nodes(workspace, "%") == [] or all(
        "%" in r["name"] for r in queries.search_nodes(workspace, "%")
    )
    assert queries.search_nodes(workspace, "") == []


def test_large_layout_is_complete_and_deterministic(workspace, monkeypatch):
    monkeypatch.setattr(layout, "SPRING_LIMIT", 3)
    acme, other = org(workspace, "Acme"), org(workspace, "Other")
    nodes = [person(workspace, f"P{i}", acme if i % 3 else other if i % 2 else None) for i in range(12)]
    tie(workspace, nodes[0], nodes[1])
    built = network.build_graph(workspace)
    first, second = layout.compute_layout(built), layout.compute_layout(built)
    assert set(first) == set(built) and first == second
    assert len({(round(x, 6), round(y, 6)) for x, y in first.values()}) == len(first)


def test_search_ignores_accents_and_case_on_both_sides(workspace):
    jose = person(workspace, "José")
    muller = person(workspace, "MÜLLER")
    plain = person(workspace, "Jose")
    acme = org(workspace, "Société Générale")
    assert queries.fold("José Müller") == "jose muller"
    assert {r["node"] for r in queries.search_nodes(workspace, "jose")} == {jose, plain}
    assert {r["node"] for r in queries.search_nodes(workspace, "JOSÉ")} == {jose, plain}
    assert [r["node"] for r in queries.search_nodes(workspace, "muller")] == [muller]
    assert [r["node"] for r in queries.search_nodes(workspace, "Mül")] == [muller]
    assert [r["node"] for r in queries.search_nodes(workspace, "societe gen")] == [f"organizations:{acme}"]
    assert queries.search_nodes(workspace, "josé_") == []  # "_" is a character, not a wildcard
    renamed = workspace.store.update("contacts", cid(plain), {"first_name": "Zoé"})
    assert renamed["first_name"] == "Zoé"  # the cached folded names follow every write
    assert [r["node"] for r in queries.search_nodes(workspace, "zoe")] == [plain]
    assert {r["node"] for r in queries.search_nodes(workspace, "jose")} == {jose}


def test_focus_shows_the_neighbours_and_grows_on_expand(workspace):
    from crm_workspace_relationships.focus import focus_drawing, focus_nodes
    from crm_workspace_relationships.model import MapModel

    acme = org(workspace, "Acme")
    a, b, c, d = (person(workspace, n, acme if n == "A" else None) for n in "ABCD")
    far = person(workspace, "Far")
    tie(workspace, a, b, strength=5)
    tie(workspace, b, c, strength=2)
    tie(workspace, c, d)
    st = network.state(workspace)
    f = network.Filters()
    acme_node = f"organizations:{acme}"
    assert focus_nodes(st.graph, a, f, 1) == [a, acme_node, b] or set(focus_nodes(st.graph, a, f, 1)) == {
        a,
        acme_node,
        b,
    }
    assert set(focus_nodes(st.graph, a, f, 2)) == {a, acme_node, b, c}
    assert set(focus_nodes(st.graph, a, f, 1, expanded=[b])) == {a, acme_node, b, c}
    assert set(focus_nodes(st.graph, a, network.Filters(min_strength=3), 1, expanded=[b])) == {a, acme_node, b}
    drawn = focus_drawing(st, f, a, 1, expanded=[b, c])
    assert set(drawn.nodes) == {a, acme_node, b, c, d} and far not in drawn.nodes
    assert drawn.pos[a] == (0.0, 0.0)
    ring = {n: round(sum(v * v for v in drawn.pos[n]) ** 0.5, 6) for n in drawn.nodes}
    assert ring[b] == ring[acme_node] < ring[c] < ring[d]  # rings by distance from the focus
    capped = focus_drawing(st, f, a, 2, limit=2)
    assert capped.capped and a in capped.nodes and "not shown" in capped.message

    model = MapModel(workspace=workspace, focus=a)
    assert set(model.drawing().nodes) == {a, acme_node, b}
    model.tap(b)
    assert model.selected == b and model.expanded == [b]
    assert set(model.drawing().nodes) == {a, acme_node, b, c}
    model.collapse()
    assert set(model.drawing().nodes) == {a, acme_node, b}
    model.focus_on(d)
    assert (model.focus, model.selected, model.expanded) == (d, d, [])
    with pytest.raises(NotFound):
        model.focus_on("contacts:999")
    with pytest.raises(NotFound):
        model.focus_on("deals:999")


def test_map_labels_never_overlap():
    names = {f"n{i}": f"A rather long name number {i}" for i in range(60)}
    graph = network.nx.Graph()
    graph.add_edges_from(("n0", n) for n in names if n != "n0")
    pos = layout.radial_layout(graph, "n0")
    for scale in (1.0, 0.5, 0.2):
        placed = layout.place_labels(pos, names, list(names), scale=scale)
        assert "n0" in placed
        boxes = [layout.label_box(pos[n], names[n], p, scale) for n, p in placed.items()]
        for i, one in enumerate(boxes):
            for other in boxes[i + 1 :]:
                assert not layout._overlap(one, other)
        for n, p in placed.items():  # no label covers a dot
            for m, (x, y) in pos.items():
                if m != n and n != "n0":
                    box = layout.label_box(pos[n], names[n], p, scale)
                    assert not (box[0] < x * scale < box[2] and box[1] < y * scale < box[3])
    assert len(layout.place_labels(pos, names, list(names), scale=1.0)) > len(
        layout.place_labels(pos, names, list(names), scale=0.2)
    )  # zoomed out, fewer names fit: the rest show on hover


def test_org_chart_tree_layout_puts_managers_above_their_reports(workspace):
    from crm_workspace_relationships.views import org_chart_figure

    acme = org(workspace, "Acme")
    ceo, vp1, vp2, e1, e2, e3 = (person(workspace, n, acme) for n in ("Ceo", "Vp1", "Vp2", "E1", "E2", "E3"))
    loose = [person(workspace, f"Loose{i}", acme) for i in range(8)]
    for report, boss in ((vp1, ceo), (vp2, ceo), (e1, vp1), (e2, vp1), (e3, vp2)):
        tie(workspace, report, boss, kind="reports_to")
    roots = org_chart.org_chart(workspace, acme)
    pos = layout.tree_layout(roots)
    x = {n: pos[cid(n)][0] for n in (ceo, vp1, vp2, e1, e2, e3)}
    depth = {n: pos[cid(n)][1] for n in (ceo, vp1, vp2, e1, e2, e3)}
    assert depth[ceo] == 0 and depth[vp1] == depth[vp2] == 1 and depth[e1] == depth[e2] == depth[e3] == 2
    assert x[vp1] == (x[e1] + x[e2]) / 2 and x[vp2] == x[e3] and x[ceo] == (x[vp1] + x[vp2]) / 2
    assert len({(x[n], depth[n]) for n in x}) == 6  # no two boxes on one spot
    # people without a reporting line fill rows below the tree (6 wide here), not one long row
    assert [pos[cid(n)] for n in loose] == [(float(i % 6), 3 + i // 6) for i in range(8)]
    fig = org_chart_figure(roots)
    boxes = next(r for r in fig.renderers if r.name == "org-chart-boxes").data_source.data
    y = dict(zip(boxes["name"], boxes["y"], strict=True))
    assert y["Ceo"] > y["Vp1"] > y["E1"] > y["Loose0"]
    links = next(r for r in fig.renderers if r.name == "org-chart-links").data_source.data
    assert len(links["xs"]) == 5


def test_single_threaded_deals_show_their_own_currency(workspace):
    from crm_workspace_relationships.model import AnalysisModel
    from crm_workspace_relationships.views.analysis import _table

    acme = org(workspace, "Acme")
    person(workspace, "P1", acme)
    workspace.store.insert(
        "deals", {"title": "Dollars", "organization_id": acme, "status": "open", "amount": 12000, "currency": "USD"}
    )
    table = _table(AnalysisModel(workspace=workspace).single_threaded())
    assert list(table.value["amount"]) == ["$12,000"] and "currency" not in table.value.columns
