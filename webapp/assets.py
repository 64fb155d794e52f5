"""Browser libraries served straight from ``node_modules`` at ``/vendor/<name>``.

``npm ci`` (run by ``make install``) fetches the exact versions pinned in ``package-lock.json``;
nothing is built or copied into the repository. Only the files named below are served, so the
rest of ``node_modules`` (sources, maps, package metadata) never reaches a browser.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, send_from_directory
from werkzeug.wrappers import Response

bp = Blueprint("assets", __name__)

REPO_ROOT = Path(__file__).resolve().parent.parent

# Public name -> path inside node_modules. The case diagram uses bpmn-js's navigated viewer
# (the viewer plus dragging to move a zoomed drawing). It needs no icon font (only the
# modeller's palette and context pad use it), so the two stylesheets are all it takes.
VENDOR_FILES: dict[str, str] = {
    "bpmn-navigated-viewer.js": "bpmn-js/dist/bpmn-navigated-viewer.production.min.js",
    "diagram-js.css": "bpmn-js/dist/assets/diagram-js.css",
    "bpmn-js.css": "bpmn-js/dist/assets/bpmn-js.css",
    "axe.min.js": "axe-core/axe.min.js",
}

# Names stay the same when a library is upgraded, so browsers revalidate (ETag) hourly rather
# than keep an old copy for long.
MAX_AGE_SECONDS = 3600


def node_modules() -> Path:
    """Where ``npm ci`` put the libraries: the app's setting, else the repository's folder."""
    configured = current_app.config.get("KINFLOW_NODE_MODULES")
    return Path(configured) if configured else REPO_ROOT / "node_modules"


@bp.get("/vendor/<name>")
def vendor(name: str) -> Response:
    """One whitelisted library file; any other name is not found."""
    relative = VENDOR_FILES.get(name)
    if relative is None:
        abort(404)
    folder = node_modules()
    if not (folder / relative).is_file():
        # Plain text, not the error page: whoever sees this is setting Kinflow up.
        message = f"{name} is not installed: run `make install` (it runs `npm ci`).\n"
        return Response(message, status=404, mimetype="text/plain")
    return send_from_directory(folder, relative, max_age=MAX_AGE_SECONDS)
