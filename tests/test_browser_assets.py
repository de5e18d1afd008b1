"""What Neo4j Browser and GraphiQL are given: the stylesheet, the guide, the managed
server's post-connect setup and the GraphiQL page (checked without a browser)."""

from __future__ import annotations

from pathlib import Path

import neo4j
import pytest
from starlette.testclient import TestClient

from api.browser import GUIDE_FILE, STYLE_FILE, managed_server_settings
from api.graphiql import EXAMPLE_QUERY, graphiql_page
from api.graphiql_assets import UNPKG_URL, VENDOR_DIR, VENDOR_PATH, unpkg_assets
from graph.model.vocabulary import LABELS, RELATION_TYPES
from graph.server.config import render_neo4j_conf
from tests.browser_assets import grass_rules, guide_queries, node_styles
from tests.conftest import cypher

GRASS = STYLE_FILE.read_text()
GUIDE = GUIDE_FILE.read_text()


def test_stylesheet_has_one_rule_per_label_of_the_model() -> None:
    labels = [name for kind, name, _ in grass_rules(GRASS) if kind == "node" and name]
    assert sorted(labels) == sorted(LABELS)


def test_every_label_has_its_own_colour_and_is_captioned_by_name() -> None:
    styles = node_styles(GRASS)
    colours = [styles[label]["color"].upper() for label in LABELS]
    assert len(set(colours)) == len(LABELS)
    assert {styles[label]["caption"] for label in LABELS} == {"{name}"}


def test_relationships_are_captioned_by_their_type() -> None:
    rules = [(name, props) for kind, name, props in grass_rules(GRASS) if kind == "relationship"]
    assert {props.get("caption") for name, props in rules if name is None} == {"<type>"}
    assert {name for name, _ in rules if name} <= set(RELATION_TYPES)


@pytest.mark.parametrize(
    ("path", "media_type", "body"),
    [
        ("/browser/style.grass", "text/plain; charset=utf-8", GRASS),
        ("/browser/guide.html", "text/html; charset=utf-8", GUIDE),
    ],
)
def test_browser_assets_are_served_to_any_origin(
    api: TestClient, path: str, media_type: str, body: str
) -> None:
    response = api.get(path, headers={"origin": "http://127.0.0.1:7474"})
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.text == body


def test_guide_preflight_is_answered(api: TestClient) -> None:
    response = api.options(
        "/browser/guide.html",
        headers={
            "origin": "http://127.0.0.1:7474",
            "access-control-request-method": "GET",
            "access-control-request-headers": "x-requested-with",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-headers"] == "x-requested-with"
    assert response.headers["access-control-allow-methods"] == "GET, OPTIONS"


def test_guide_has_the_seven_walkthrough_slides() -> None:
    assert GUIDE.count("<slide ") == 9
    for heading in (
        "The NCSC statement",
        "APT31",
        "Linked to the MSS",
        "From an incident to a state",
        "What the Electoral Commission lost",
        "As known on a date",
        "After the imports",
    ):
        assert f"<h3>{heading}</h3>" in GUIDE


# The slide whose queries are asked after the MISP galaxy and ATT&CK imports.
_AFTER_IMPORTS = GUIDE[GUIDE.index("<h3>After the imports</h3>") :]
AFTER_IMPORTS = guide_queries(_AFTER_IMPORTS[: _AFTER_IMPORTS.index("</slide>")])
OF_THE_SEED = [query for query in guide_queries(GUIDE) if query not in AFTER_IMPORTS]


def _query_id(query: str) -> str:
    return " ".join(query.split())[:60]


@pytest.mark.parametrize("query", OF_THE_SEED, ids=_query_id)
def test_every_guide_query_answers_on_the_seed(
    query: str, driver: neo4j.Driver, seeded_graph: None
) -> None:
    assert cypher(driver, query) != []


def test_the_imports_slide_asks_activity_techniques_and_duplicates() -> None:
    assert len(AFTER_IMPORTS) == 3


def test_after_the_imports_the_guide_shows_campaigns_techniques_and_duplicates(
    driver: neo4j.Driver, imported_graph: None
) -> None:
    activity, techniques, duplicates = (cypher(driver, query) for query in AFTER_IMPORTS)
    # The seed's two incidents and the four ATT&CK campaigns (tests/test_activity.py).
    assert len({row["path"][0]["id"] for row in activity}) == 6
    assert len(techniques) == 29
    assert techniques[0] == {
        "attackId": "T1012",
        "name": "Query Registry",
        "tactics": ["discovery"],
        "likelihood": "UNGRADED",
        "sources": ["source:mitre-attack-enterprise"],
    }
    # As docs/cookbook.md prints it.
    assert duplicates == [
        {"id": "actor:apt28", "name": "APT28", "namesShared": ["grizzly steppe"]},
        {
            "id": "actor:unc2452",
            "name": "UNC2452",
            "namesShared": ["unc2452", "nobelium", "midnight blizzard"],
        },
    ]


def test_managed_server_applies_style_and_guide_from_the_api_by_default() -> None:
    settings = managed_server_settings({})
    assert settings.browser_post_connect_cmd == (
        "style http://127.0.0.1:8000/browser/style.grass; "
        "play http://127.0.0.1:8000/browser/guide.html"
    )
    assert settings.browser_allowlist == "127.0.0.1"


def test_post_connect_setup_follows_the_api_address() -> None:
    settings = managed_server_settings(
        {"THREATGRAPH_API_HOST": "0.0.0.0", "THREATGRAPH_API_PORT": "9100"}
    )
    assert settings.browser_post_connect_cmd == (
        "style http://localhost:9100/browser/style.grass; "
        "play http://localhost:9100/browser/guide.html"
    )
    assert settings.browser_allowlist == "localhost"


def test_post_connect_setup_can_be_turned_off() -> None:
    settings = managed_server_settings({"THREATGRAPH_BROWSER_POST_CONNECT_CMD": "off"})
    assert settings.browser_post_connect_cmd is None
    assert "browser.post_connect_cmd" not in render_neo4j_conf(settings)


def test_neo4j_conf_uses_the_setting_names_neo4j_5_26_knows() -> None:
    conf = render_neo4j_conf(managed_server_settings({})).splitlines()
    assert "browser.remote_content_hostname_whitelist=127.0.0.1" in conf
    assert (
        "browser.post_connect_cmd=style http://127.0.0.1:8000/browser/style.grass; "
        "play http://127.0.0.1:8000/browser/guide.html"
    ) in conf


def test_graphiql_page_opens_on_the_example_query(api: TestClient) -> None:
    response = api.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    first_line = EXAMPLE_QUERY.splitlines()[0]
    assert f"const EXAMPLE_QUERY = `{first_line}\n" in response.text
    assert "Welcome to GraphiQL" not in response.text


def test_graphiql_loads_its_scripts_from_the_api_once_vendored(api: TestClient) -> None:
    page = api.get("/graphql", headers={"accept": "text/html"}).text
    assets = unpkg_assets(graphiql_page(vendor_dir=None))
    assert len(assets) == 7, "run: make install (threatgraph graphiql install)"
    assert UNPKG_URL not in page
    for asset in assets:
        served = api.get(f"{VENDOR_PATH}/{asset.spec}/{asset.path}")
        assert served.status_code == 200, asset
        assert asset.matches(served.content), f"{asset.spec}/{asset.path} fails its hash"
    assert all(asset.file(VENDOR_DIR).is_file() for asset in assets)


def test_graphiql_falls_back_to_unpkg_without_vendored_files(tmp_path: Path) -> None:
    page = graphiql_page(vendor_dir=tmp_path)
    assert page.count(UNPKG_URL) == 7
    assert VENDOR_PATH not in page


def test_vendor_path_outside_the_vendor_folder_is_refused(api: TestClient) -> None:
    assert api.get(f"{VENDOR_PATH}/../../pyproject.toml").status_code == 404
