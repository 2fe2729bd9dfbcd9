"""A tiny Django site reads and writes a pipeline's database through
corral.libs.django_integration, set up as the manual describes."""

import json
import os
import sqlite3
import subprocess
import sys
import textwrap

from conftest import ROOT, make_pipeline, run_corral
from test_migrations import store_rows

SETTINGS = """
import os

SECRET_KEY = "only-for-the-test"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
ROOT_URLCONF = "site_urls"
INSTALLED_APPS = []
DATABASES = {}
MIDDLEWARE = ["corral.libs.django_integration.CorralSessionMiddleware"]

# The manual's two lines: name the pipeline, then load it.
os.environ.setdefault("CORRAL_SETTINGS_MODULE", "irispl.settings")

from corral import core  # noqa: E402

core.setup_environment()
"""

URLS = """
from django.urls import path

import site_views

urlpatterns = [
    path("species/", site_views.species),
    path("add/<str:name>/", site_views.add),
    path("add-then-fail/<str:name>/", site_views.add_then_fail),
    path("plain/", site_views.plain),
]
"""

# `corral.lib` is how the manual's example spells the module; it is the
# same module as `corral.libs`.
VIEWS = """
from django.http import JsonResponse

from corral.lib.django_integration import no_corral
from irispl import models as cmodels


def species(request):
    session = request.corral_session
    names = sorted(n.name for n in session.query(cmodels.Name))
    count = session.query(cmodels.Observation).count()
    return JsonResponse({"names": names, "observations": count})


def add(request, name):
    request.corral_session.add(cmodels.Name(name=name))
    return JsonResponse({"added": name})


# What add_then_fail saw of its own row before failing.
SEEN = {}


def add_then_fail(request, name):
    session = request.corral_session
    session.add(cmodels.Name(name=name))
    # The row reaches the database inside the view's transaction...
    session.flush()
    SEEN[name] = session.query(cmodels.Name).filter_by(name=name).count()
    # ...which the failure must roll back.
    raise RuntimeError("the view failed after writing")


@no_corral
def plain(request):
    return JsonResponse({"has_session": hasattr(request, "corral_session")})
"""

CLIENT = """
import json
import os

os.environ["DJANGO_SETTINGS_MODULE"] = "site_settings"

import django
from django.test import Client

django.setup()
client = Client(raise_request_exception=False)
results = {}
for key, url in [("before", "/species/"), ("add", "/add/Iris-nova/"),
                 ("fail", "/add-then-fail/Iris-lost/"),
                 ("after", "/species/"), ("plain", "/plain/")]:
    response = client.get(url)
    body = response.json() if response.status_code == 200 else None
    results[key] = {"status": response.status_code, "body": body}
    if getattr(response, "exc_info", None):
        results[key]["error"] = str(response.exc_info[1])

import site_views  # noqa: E402

results["seen"] = site_views.SEEN
print(json.dumps(results))
"""


def test_django_views_use_the_pipeline_session(tmp_path):
    database = tmp_path / "iris.db"
    project = make_pipeline(tmp_path, connection=f"sqlite:///{database}")
    result = run_corral("createdb", "--noinput", cwd=project)
    assert result.returncode == 0, result
    store_rows(project, tmp_path)

    site = tmp_path / "site"
    site.mkdir()
    for name, text in (("site_settings.py", SETTINGS), ("site_urls.py", URLS),
                       ("site_views.py", VIEWS), ("client.py", CLIENT)):
        (site / name).write_text(textwrap.dedent(text))
    env = dict(os.environ)
    env.pop("CORRAL_PROJECT", None)
    env.pop("CORRAL_SETTINGS_MODULE", None)
    # The site imports the pipeline package, as an installed one would be.
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(project), str(ROOT)])
    completed = subprocess.run(
        [sys.executable, "client.py"], cwd=site, env=env,
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    results = json.loads(completed.stdout.strip().splitlines()[-1])

    assert results["before"]["status"] == 200
    species = ["Iris-setosa", "Iris-versicolor", "Iris-virginica"]
    assert results["before"]["body"] == {"names": species,
                                         "observations": 150}
    assert results["add"] == {"status": 200, "body": {"added": "Iris-nova"}}
    assert results["fail"]["status"] == 500
    assert results["fail"]["error"] == "the view failed after writing"
    assert results["seen"] == {"Iris-lost": 1}
    assert results["after"]["body"]["names"] == sorted(
        species + ["Iris-nova"])
    assert results["plain"] == {"status": 200,
                                "body": {"has_session": False}}

    # What the database holds, read without Corral or Django.
    with sqlite3.connect(database) as conn:
        names = {r[0] for r in conn.execute('SELECT name FROM "Name"')}
    assert "Iris-nova" in names
    assert "Iris-lost" not in names


def test_corral_never_imports_django():
    """Django is an optional extra: the framework runs without it."""
    code = (
        "import sys\n"
        "import corral\n"
        "from corral import cli, conf, db, migrations, libs, run\n"
        "from corral_lib.cli.main import builtin_commands\n"
        "builtin_commands()\n"
        "print('django' in sys.modules)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True,
        text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "False"
