"""In a real browser: Neo4j Browser styled and guided on connect, and GraphiQL's example.

Chromium (Debian's, headless) opens Neo4j Browser on the suite's managed server,
whose neo4j.conf carries the post-connect setup pointing at the API served here
on BROWSER_TEST_API_PORT; it connects, checks the stylesheet and guide arrived
by themselves, runs the guide's MSS query and reads the drawn SVG. Another
opens GraphiQL, runs the example query and reads the answer off the page.
Screenshots go to tmp, or docs/img under `make screenshots`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from starlette.testclient import TestClient

from api.browser import GUIDE_FILE, STYLE_FILE
from api.graphiql import EXAMPLE_QUERY
from tests.api_client import gql
from tests.browser_assets import guide_queries, node_styles
from tests.browser_session import chromium, live_api, screenshot_dir, wait_for
from tests.neo4j_provider import BROWSER_TEST_API_PORT, SuiteNeo4j

MSS_GUIDE_QUERY = next(
    q for q in guide_queries(GUIDE_FILE.read_text()) if "agency:mss" in q and "RETURN path" in q
)
TIMEOUT_VARIABLE = "THREATGRAPH_TRANSACTION_TIMEOUT_MS"
EXPECTED_MSS_NODES = {
    "APT31": "ThreatActor",
    "Ministry of State Security": "Agency",
    "Reconnaissance against UK parliamentarians' email accounts (2021)": "Incident",
}
SLIDES = GUIDE_FILE.read_text().count("<slide ")


@pytest.fixture(scope="module", autouse=True)
def patient_queries() -> Iterator[None]:
    """A cold server plans the first linkedTo query slowly on a busy machine: these
    tests check what is drawn, not speed, so the API they start waits up to 60 s."""
    saved = os.environ.get(TIMEOUT_VARIABLE)
    os.environ[TIMEOUT_VARIABLE] = "60000"
    yield
    if saved is None:
        os.environ.pop(TIMEOUT_VARIABLE)
    else:
        os.environ[TIMEOUT_VARIABLE] = saved


@pytest.fixture(scope="module")
def api_url(neo4j_env: dict[str, str]) -> Iterator[str]:
    with live_api(BROWSER_TEST_API_PORT) as url:
        yield url


def frame_running(driver: WebDriver, command_prefix: str) -> WebElement | None:
    """The newest result frame whose command starts with `command_prefix`."""
    for frame in driver.find_elements(By.CSS_SELECTOR, "[data-testid=frame]"):
        commands = frame.find_elements(By.CSS_SELECTOR, "[data-testid=frameCommand]")
        if commands and commands[0].text.strip().startswith(command_prefix):
            return frame
    return None


def frames_shown(driver: WebDriver) -> str:
    """Every result frame's text, newest first and cut at 600 characters (for timeouts)."""
    shown = [
        " | ".join(frame.text.strip().splitlines())[:600]
        for frame in driver.find_elements(By.CSS_SELECTOR, "[data-testid=frame]")
    ]
    return repr(shown) if shown else "no result frames"


def drawn_nodes(frame: WebElement) -> list[dict[str, Any]]:
    """Caption lines, fill colour and diameter of every node drawn in a result frame."""
    return [
        {
            "caption": [
                t.text.strip() for t in node.find_elements(By.CSS_SELECTOR, "text.caption")
            ],
            "fill": node.find_element(By.CSS_SELECTOR, "circle.b-outline").get_attribute("fill"),
            "diameter": 2
            * float(node.find_element(By.CSS_SELECTOR, "circle.b-outline").get_attribute("r") or 0),
        }
        for node in frame.find_elements(By.CSS_SELECTOR, "svg g.node")
    ]


def caption_names(caption: list[str], name: str) -> bool:
    """Is `caption` what Browser draws for `name`?

    Browser fits a caption into its circle: it wraps words into lines, may drop
    a word that does not fit, and cuts the last one short (often with '…'). So
    the shown words are `name`'s words in order, the last maybe only the start
    of one.
    """
    shown = " ".join(caption).split()
    words = name.split()
    if not shown:
        return False
    *whole, last = shown
    position = 0
    for word in whole:
        if word not in words[position:]:
            return False
        position = words.index(word, position) + 1
    start = last.removesuffix("…")
    return bool(start) and any(word.startswith(start) for word in words[position:])


def test_neo4j_browser_applies_style_and_guide_on_connect_and_captions_nodes(
    test_neo4j: SuiteNeo4j, api_url: str, seeded_graph: None, tmp_path: Path
) -> None:
    if test_neo4j.managed is None:
        pytest.skip("Neo4j Browser's post-connect setup is tested on the managed server only")
    server = test_neo4j.managed
    bolt = server.settings.bolt_uri.replace("bolt://", "bolt://neo4j@")
    with chromium() as driver:
        driver.get(f"{server.settings.browser_url}?dbms={bolt}")
        password = wait_for(
            driver,
            lambda d: d.find_elements(By.CSS_SELECTOR, "input[data-testid=password]"),
            "the connect form",
        )
        # Enter submits the form wherever it is drawn. A click on the Connect
        # button lands where the button was while the new frame still slides
        # into place, often on the field above it, and Browser never connects:
        # 15 of 40 clicked logins failed so, against 0 of 40 with Enter.
        password[0].send_keys(server.password + Keys.ENTER)

        style = wait_for(
            driver,
            lambda d: frame_running(d, f":style {api_url}/browser/style.grass"),
            ":style",
            frames_shown,
        )
        guide = wait_for(
            driver,
            lambda d: frame_running(d, f":play {api_url}/browser/guide.html"),
            ":play",
            frames_shown,
        )
        wait_for(driver, lambda d: f"1 / {SLIDES}" in guide.text, f"the guide's first of {SLIDES}")
        assert "Cyber-threat attributions, with the evidence behind each claim" in guide.text
        assert "node.ThreatActor {" in style.text

        editor = driver.find_element(By.CSS_SELECTOR, "[data-testid=activeEditor] textarea")
        editor.send_keys(" ".join(MSS_GUIDE_QUERY.split()))
        driver.find_element(By.CSS_SELECTOR, "button[data-testid=editor-Run]").click()
        result = wait_for(driver, lambda d: frame_running(d, "MATCH path"), "the MSS result")
        wait_for(
            driver,
            lambda d: len(result.find_elements(By.CSS_SELECTOR, "svg g.node")) == 3,
            "three drawn nodes",
        )
        nodes = drawn_nodes(result)
        styles = node_styles(STYLE_FILE.read_text())
        for name, label in EXPECTED_MSS_NODES.items():
            matching = [n for n in nodes if caption_names(n["caption"], name)]
            assert len(matching) == 1, f"{name!r} is not the caption of one node: {nodes}"
            assert matching[0]["fill"].upper() == styles[label]["color"].upper(), name
            assert matching[0]["diameter"] == float(styles[label]["diameter"].rstrip("px"))
        assert ["APT31"] in [n["caption"] for n in nodes]
        captions = [
            t.text for t in result.find_elements(By.CSS_SELECTOR, "svg g.relationship text")
        ]
        assert sorted(captions) == ["AFFILIATED_WITH", "ATTRIBUTED_TO"]

        shots = screenshot_dir(tmp_path)
        driver.execute_script("arguments[0].scrollIntoView(true);", guide)
        guide.screenshot(str(shots / "neo4j-browser-guide.png"))
        driver.execute_script("arguments[0].scrollIntoView(true);", result)
        result.screenshot(str(shots / "neo4j-browser-mss.png"))
    assert (shots / "neo4j-browser-mss.png").stat().st_size > 10_000


CODEMIRROR_VALUE = "return document.querySelector(arguments[0]).CodeMirror.getValue();"


def test_graphiql_opens_on_the_example_query_and_shows_its_answer(
    api: TestClient, api_url: str, seeded_graph: None, tmp_path: Path
) -> None:
    expected = gql(api, EXAMPLE_QUERY)
    assert expected["_status"] == 200 and "errors" not in expected
    with chromium() as driver:
        driver.get(f"{api_url}/graphql")
        wait_for(
            driver,
            lambda d: d.find_elements(By.CSS_SELECTOR, ".graphiql-query-editor .CodeMirror"),
            "GraphiQL's query editor",
        )
        shown_query = driver.execute_script(CODEMIRROR_VALUE, ".graphiql-query-editor .CodeMirror")
        assert shown_query == EXAMPLE_QUERY
        driver.find_element(By.CSS_SELECTOR, ".graphiql-execute-button").click()
        answer_text = wait_for(
            driver,
            lambda d: d.execute_script(CODEMIRROR_VALUE, ".result-window .CodeMirror"),
            "the answer in GraphiQL's result pane",
        )
        assert json.loads(answer_text) == {"data": expected["data"]}
        visible = driver.find_element(By.CSS_SELECTOR, ".result-window").text
        assert '"totalCount": 1' in visible
        assert re.search(r"Reconnaissance against UK parliamentarians' email accounts", visible)
        shots = screenshot_dir(tmp_path)
        driver.save_screenshot(str(shots / "graphiql.png"))
