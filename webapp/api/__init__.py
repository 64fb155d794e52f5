"""The JSON API (``/api/v1``) for other council systems, described at ``/api/v1/openapi.json``.

One module per idea: ``auth`` (bearer tokens, who sees which case, the audit log), ``body``
(reading JSON), ``serialize`` (what is sent), ``tasks``, ``cases``, ``messages``, ``forms``,
``versions`` and ``reports`` (the endpoints), ``schemas`` and ``openapi`` (the document that
describes them).
Errors are JSON from ``webapp.errors``, like every other part of the app.
"""

from flask import Blueprint
from werkzeug.wrappers import Response

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.after_request
def _not_cached(response: Response) -> Response:
    # Answers hold children's records: no proxy or client cache may keep a copy.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


# Importing the modules registers their routes on ``bp``.
from webapp.api import auth, cases, forms, openapi, reports, tasks, versions  # noqa: E402,F401
