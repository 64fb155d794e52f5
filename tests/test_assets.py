"""Vendor libraries: only whitelisted files are served, and a missing install says what to do."""

from __future__ import annotations

import json
import re
from pathlib import Path

import flask
import pytest

from tests.conftest import REPO
from webapp import assets


@pytest.fixture
def modules(tmp_path: Path) -> Path:
    """A fake node_modules with the viewer bundle and one file that is not whitelisted."""
    folder = tmp_path / "node_modules"
    viewer = folder / "bpmn-js/dist/bpmn-navigated-viewer.production.min.js"
    viewer.parent.mkdir(parents=True)
    viewer.write_text("window.BpmnJS = function () {};")
    (folder / "bpmn-js/package.json").write_text('{"name": "bpmn-js"}')
    return folder


@pytest.fixture
def client(modules: Path) -> flask.testing.FlaskClient:
    app = flask.Flask(__name__)
    app.config["KINFLOW_NODE_MODULES"] = str(modules)
    app.register_blueprint(assets.bp)
    return app.test_client()


def test_a_whitelisted_file_is_served_from_node_modules_with_a_cache_lifetime(client):
    response = client.get("/vendor/bpmn-navigated-viewer.js")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "window.BpmnJS = function () {};"
    assert "javascript" in response.mimetype
    assert f"max-age={assets.MAX_AGE_SECONDS}" in response.headers["Cache-Control"]


@pytest.mark.parametrize(
    "name",
    ["package.json", "bpmn-js", "..%2Fbpmn-js%2Fpackage.json", "bpmn-viewer.production.min.js"],
)
def test_names_outside_the_whitelist_are_not_found(client, name):
    assert client.get(f"/vendor/{name}").status_code == 404


def test_a_path_into_node_modules_is_not_found(client):
    assert client.get("/vendor/bpmn-js/package.json").status_code == 404


def test_a_whitelisted_file_that_is_not_installed_says_to_run_make_install(client):
    response = client.get("/vendor/axe.min.js")
    assert response.status_code == 404
    assert response.mimetype == "text/plain"
    assert "make install" in response.get_data(as_text=True)


def test_without_a_setting_the_repository_node_modules_is_used():
    app = flask.Flask(__name__)
    with app.app_context():
        assert assets.node_modules() == REPO / "node_modules"


def test_every_whitelisted_file_is_one_of_the_pinned_packages():
    """A whitelist entry for a package npm does not install would 404 forever."""
    pinned = json.loads((REPO / "package.json").read_text())["dependencies"]
    packages = {path.split("/")[0] for path in assets.VENDOR_FILES.values()}
    assert packages <= set(pinned)


def test_package_json_pins_exact_versions_so_npm_ci_is_reproducible():
    manifest = json.loads((REPO / "package.json").read_text())
    assert manifest["private"] is True
    dependencies = manifest["dependencies"]
    assert {"bpmn-js", "axe-core"} <= set(dependencies)
    for name, version in dependencies.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned: {version}"
    lock = json.loads((REPO / "package-lock.json").read_text())
    for name, version in dependencies.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


@pytest.mark.skipif(
    not (REPO / "node_modules").is_dir(), reason="npm ci has not been run (make install runs it)"
)
def test_every_whitelisted_file_exists_in_the_installed_packages():
    """Catches a path that moved when a package was upgraded."""
    missing = [
        name
        for name, path in assets.VENDOR_FILES.items()
        if not (REPO / "node_modules" / path).is_file()
    ]
    assert missing == []
