"""Using a pipeline's database from a Django site.

In the Django project's settings, load the pipeline and add the middleware:

    MIDDLEWARE = [
        ...,
        "corral.libs.django_integration.CorralSessionMiddleware",
    ]

    os.environ.setdefault("CORRAL_SETTINGS_MODULE", "my_pipeline.settings")

    from corral import core
    core.setup_environment()

Every view then finds `request.corral_session`, an SQLAlchemy session on the
pipeline's database (settings.CONNECTION). What the view does with it is
one transaction: committed when the view returns a response, rolled back
when it raises. A view decorated with `@no_corral` gets no session.

This module never imports Django, so importing it costs nothing and Corral
does not depend on Django. Shortcomings: sessions are for synchronous
views (an async view gets none of its own), and the transaction ends when
the view returns, so a streaming response must not read from the session.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("corral.libs.django")

# The attribute set on requests and the marker set by @no_corral.
SESSION_ATTRIBUTE = "corral_session"
EXCLUDED_MARK = "no_corral"


def no_corral(view):
    """Decorate a view (a function or a class-based view) that must run
    without a Corral session."""
    setattr(view, EXCLUDED_MARK, True)
    return view


def _excluded(view_func) -> bool:
    if getattr(view_func, EXCLUDED_MARK, False):
        return True
    # Class-based views: as_view() keeps the class on the function.
    view_class = getattr(view_func, "view_class", None)
    return bool(getattr(view_class, EXCLUDED_MARK, False))


class CorralSessionMiddleware:
    """Give each Django view a Corral session inside one transaction.

    The session opens just before the view runs (process_view), is rolled
    back and closed if the view raises (process_exception), and is
    committed and closed once the response comes back (__call__).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = request.__dict__.pop(SESSION_ATTRIBUTE, None)
        if session is not None:
            try:
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if _excluded(view_func):
            return None
        from corral_lib import db

        setattr(request, SESSION_ATTRIBUTE, db.Session())
        return None

    def process_exception(self, request, exception):
        session = request.__dict__.pop(SESSION_ATTRIBUTE, None)
        if session is not None:
            logger.debug("rolling back the Corral session of %s: %r",
                         getattr(request, "path", "?"), exception)
            try:
                session.rollback()
            finally:
                session.close()
        return None
