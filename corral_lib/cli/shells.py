"""Commands for working inside the pipeline's data: shell, dbshell,
notebook, exec and sqlitebrowser."""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys

from ..errors import CorralError
from .base import BaseCommand


def shell_namespace():
    """What `corral shell` preloads, grouped by module for the banner.

    Returns (namespace, [(module name, [names])]): the pipeline's models,
    the settings, an open session and settings.SHELL_LOCALS.
    """
    from .. import db
    from ..conf import settings

    namespace, groups = {}, []
    models = db.load_models_module()
    if models is not None:
        names = sorted(
            n for n, v in vars(models).items()
            if isinstance(v, type) and issubclass(v, db.Model)
            and v is not db.Model and v.__module__ == models.__name__
        )
        namespace.update({n: getattr(models, n) for n in names})
        groups.append((models.__name__, names))
    session = db.Session()
    namespace.update({"session": session, "settings": settings, "db": db})
    groups.append(("sqlalchemy.orm.session", ["session"]))
    groups.append(("corral", ["db", "settings"]))
    extra = settings.get("SHELL_LOCALS") or {}
    if not isinstance(extra, dict):
        raise CorralError(
            "settings.SHELL_LOCALS must be a dict of name -> object; it is "
            f"a {type(extra).__name__}"
        )
    if extra:
        namespace.update(extra)
        groups.append(("settings.SHELL_LOCALS", sorted(extra)))
    return namespace, groups


def banner(groups) -> str:
    lines = [f"LOAD: {', '.join(names)} ({module})"
             for module, names in groups if names]
    lines.append("-" * 80)
    return "\n".join(lines)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# What each prompt needs, and the package that provides it.
SHELLS = {
    "ipython": ("IPython", "ipython"),
    "bpython": ("bpython", "bpython"),
    "plain": ("code", None),
}


class Shell(BaseCommand):
    """Open a Python prompt with the models, settings and a session loaded.

    IPython when it is installed, else bpython, else the plain Python
    console. `session` is an open session on the pipeline's database; the
    names in settings.SHELL_LOCALS are loaded too.

    example: corral shell --shell plain
    """

    options = {"title": "shell"}

    def setup(self):
        self.parser.add_argument(
            "--shell", choices=list(SHELLS), default=None,
            help="which prompt to open (default: the first installed of "
            "ipython, bpython, plain)",
        )
        self.parser.add_argument(
            "-c", "--command", metavar="CODE", dest="code",
            help="run CODE with the same names loaded, then exit",
        )

    def handle(self, shell=None, code=None):
        shell = self.choose(shell)
        namespace, groups = shell_namespace()
        # IPython empties the namespace when it exits: keep the session.
        session = namespace["session"]
        try:
            if code is not None:
                exec(compile(code, "<command>", "exec"), namespace)
                return
            self.write(banner(groups))
            getattr(self, f"run_{shell}")(namespace)
        finally:
            session.close()

    @staticmethod
    def choose(shell: str | None) -> str:
        if shell is None:
            return next(name for name, (module, _) in SHELLS.items()
                        if _installed(module))
        module, package = SHELLS[shell]
        if not _installed(module):
            raise CorralError(
                f"--shell {shell}: {module} is not installed; install it with "
                f"'pip install {package}' or use --shell plain"
            )
        return shell

    def run_ipython(self, namespace):
        from IPython import start_ipython

        # argv=[] keeps IPython from reading corral's own arguments.
        start_ipython(argv=[], user_ns=namespace)

    def run_bpython(self, namespace):
        import bpython

        bpython.embed(locals_=namespace)

    def run_plain(self, namespace):
        import code

        try:
            import readline  # noqa: F401  (line editing when available)
        except ImportError:
            pass
        code.interact(banner="", local=namespace, exitmsg="")


def load_ipython_extension(ipython):
    """Load the pipeline into an IPython session: `corral notebook`'s kernel
    runs this, and `%load_ext corral_lib.cli.shells` in any IPython started
    inside a pipeline's folder does the same."""
    import atexit

    from ..conf import settings
    from .main import _pipeline_setup

    settings._load()
    pipeline_setup = _pipeline_setup()
    pipeline_setup.setup()
    atexit.register(pipeline_setup.teardown)
    namespace, groups = shell_namespace()
    ipython.push(namespace)
    print(banner(groups))


class Notebook(BaseCommand):
    """Start Jupyter with a kernel that has the pipeline loaded.

    The kernel "Corral: PIPELINE" starts with the same names as
    `corral shell`. Arguments after `--` go to Jupyter.

    example: corral notebook -- --no-browser --port 8899
    """

    options = {"title": "notebook"}

    def setup(self):
        self.parser.add_argument(
            "args", nargs=argparse.REMAINDER,
            help="arguments passed on to Jupyter",
        )

    def handle(self, args=()):
        import tempfile

        args = list(args)
        if args[:1] == ["--"]:
            args = args[1:]

        from ..conf import settings

        app = next((m for m in ("notebook", "jupyterlab") if _installed(m)),
                   None)
        if app is None or not _installed("ipykernel"):
            raise CorralError(
                "notebook: Jupyter is not installed; install it with "
                "'pip install notebook' (or 'pip install jupyterlab')"
            )
        project = settings.project
        name = f"corral-{project.package}"
        with tempfile.TemporaryDirectory(prefix="corral-jupyter-") as path:
            write_kernel_spec(path, name, project)
            env = dict(os.environ)
            env["JUPYTER_PATH"] = os.pathsep.join(
                p for p in (path, env.get("JUPYTER_PATH")) if p
            )
            command = [
                sys.executable, "-m", app,
                f"--MultiKernelManager.default_kernel_name={name}", *args,
            ]
            self.exit_with(run_program(command, env=env))


def write_kernel_spec(folder: str, name: str, project) -> str:
    """Write a Jupyter kernel spec that starts IPython with the pipeline
    loaded; return its directory."""
    import json

    spec_dir = os.path.join(folder, "kernels", name)
    os.makedirs(spec_dir)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher",
                 "-f", "{connection_file}",
                 "--IPKernelApp.extensions=['corral_lib.cli.shells']"],
        "display_name": f"Corral: {project.package}",
        "language": "python",
        "env": {"CORRAL_PROJECT": str(project.directory)},
    }
    with open(os.path.join(spec_dir, "kernel.json"), "w") as handle:
        json.dump(spec, handle, indent=2)
    return spec_dir


# The output formats of corral_lib.dbshell.FORMATS, repeated here so that
# building the command line does not import SQLAlchemy.
DB_FORMATS = ("grid", "plain", "csv", "json")


class DBShell(BaseCommand):
    """Open an SQL prompt on the pipeline's database.

    Statements end with ';' and may span lines; '.help' lists the prompt's
    commands (tables, describe, format, limit, timing, pager). With -c, or
    with SQL piped on standard input, the statements run without a prompt
    and the command exits non-zero at the first failing one.

    example: corral dbshell -c "SELECT count(*) FROM Observation" --format csv
    """

    options = {"title": "dbshell"}

    def setup(self):
        self.parser.add_argument(
            "-c", "--command", metavar="SQL", dest="sql",
            help="run SQL (statements and dot-commands) and exit",
        )
        self.parser.add_argument(
            "--format", choices=DB_FORMATS, default="grid",
            help="how results are printed (default: grid)",
        )
        self.parser.add_argument(
            "--limit", type=int, metavar="N", default=None,
            help="show at most N rows of a result (0: all; default: 1000 at "
            "the prompt, all with -c or piped SQL)",
        )
        self.parser.add_argument(
            "--timing", action="store_true",
            help="print how long each statement took",
        )
        self.parser.add_argument(
            "--shell", choices=["prompt-toolkit", "plain"], default=None,
            help="the prompt: prompt-toolkit (highlighting, completion, "
            "history; the default on a terminal) or plain (line by line, "
            "needs no terminal features)",
        )

    def handle(self, sql=None, format="grid", limit=None, timing=False,
               shell=None):
        from .. import db, dbshell
        from ..conf import settings

        if limit is not None and limit < 0:
            raise CorralError("--limit must be 0 (no limit) or more rows")
        interactive = sql is None and (
            shell is not None or _is_terminal(self.stdin)
        )
        if limit is None:
            limit = dbshell.DEFAULT_LIMIT if interactive else 0
        engine = db.get_engine()
        db.check_connection(engine)
        repl = dbshell.SQLShell(
            engine, self.stdout, fmt=format, limit=limit, timing=timing,
            notes=self.stdout if interactive else self.stderr,
        )
        try:
            if sql is not None:
                dbshell.run_script(repl, sql)
            elif not interactive:
                dbshell.run_script(repl, self.stdin.read())
            else:
                self.write(dbshell.banner(engine))
                if shell == "plain":
                    dbshell.run_plain(repl, self.stdin, self.stdout,
                                      self.stderr)
                else:
                    project = settings.project
                    history = dbshell.history_path(
                        engine.url, project.directory if project else None
                    )
                    dbshell.run_prompt(repl, history, errors=self.stderr)
        finally:
            repl.close()


def run_program(command: list[str], env=None) -> int:
    """Run another program in the foreground and return its exit status.

    Ctrl-C belongs to that program while it runs (Jupyter asks before it
    stops), so this process ignores it instead of dying first and leaving
    the program's children behind.
    """
    import signal
    import threading

    try:
        process = subprocess.Popen(command, env=env)
    except OSError as exc:
        raise CorralError(f"cannot start {command[0]}: {exc}") from exc
    if threading.current_thread() is not threading.main_thread():
        return process.wait()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return process.wait()
    finally:
        signal.signal(signal.SIGINT, previous)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class SQLiteBrowser(BaseCommand):
    """Open the pipeline's SQLite database in the sqlitebrowser program.

    example: corral sqlitebrowser
    """

    options = {"title": "sqlitebrowser"}

    def handle(self):
        from .. import db

        engine = db.get_engine()
        backend = engine.dialect.name
        if backend != "sqlite":
            raise CorralError(
                f"sqlitebrowser opens SQLite databases only, and CONNECTION "
                f"is a {backend} database; use 'corral dbshell' instead"
            )
        path = db.file_path(engine.url)
        if path is None:
            raise CorralError(
                "sqlitebrowser: CONNECTION is an in-memory SQLite database, "
                "which no other program can open; point it at a file"
            )
        if not path.exists():
            raise CorralError(
                f"sqlitebrowser: the database {path} does not exist yet; "
                "create it with 'corral createdb'"
            )
        program = shutil.which("sqlitebrowser")
        if program is None:
            raise CorralError(
                "sqlitebrowser is not installed or not on PATH; install DB "
                "Browser for SQLite (Debian/Ubuntu: 'apt install "
                "sqlitebrowser') or use 'corral dbshell'"
            )
        db.teardown()
        self.exit_with(run_program([program, str(path)]))


class Exec(BaseCommand):
    """Run a Python script inside the pipeline's environment.

    The script runs as __main__ with sys.argv set to the script and its
    arguments, and its folder first on the import path, as with
    `python SCRIPT`; its exit status becomes the command's.

    example: corral exec report.py --night 2026-12-01
    """

    options = {"title": "exec"}

    def setup(self):
        self.parser.add_argument("script", help="the Python file to run")
        self.parser.add_argument(
            "args", nargs=argparse.REMAINDER,
            help="arguments passed to the script",
        )

    def handle(self, script, args=()):
        import runpy

        if not os.path.isfile(script):
            raise CorralError(f"exec: no such script: {script}", 2)
        old_argv, old_path = sys.argv, list(sys.path)
        sys.argv = [script, *args]
        sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as exc:
            code = exc.code
            if code is None:
                code = 0
            elif not isinstance(code, int):
                self.stderr.write(f"{code}\n")
                code = 1
            self.exit_with(code)
        finally:
            sys.argv = old_argv
            sys.path[:] = old_path


COMMANDS = [Shell, DBShell, Notebook, Exec, SQLiteBrowser]
