"""Extract the executable's compiled extension modules when first imported.

A one-file PyInstaller program unpacks everything it carries into a scratch
folder (sys._MEIPASS) at every start, and deletes it at exit. For Corral
that would mean writing about 100 MB before `corral lssteps` can print a
line, most of it DuckDB's engine, which only commands on a DuckDB database
load. build.spec therefore stores the extension modules (`.so` files that
Python imports) inside the archive of Python modules instead, as payload
modules whose only content is the file's bytes, and lists them in the
generated module `_corral_lazy_index`. Each payload holds its file
compressed with zlib (the module archive itself is not compressed, for a
faster start). The index reads:

    EXTENSIONS = {"_duckdb": ("_duckdb.cpython-311-x86_64-linux-gnu.so",
                              "_corral_lazy_payload_0"), ...}

This runtime hook runs before any other code of the program and puts a
finder first on sys.meta_path: importing one of those modules writes its
file into sys._MEIPASS (once per run: processes started by multiprocessing
share the folder) and loads it from there like any extension module. Shared
libraries (libpython, libssl, ...) are still unpacked at start, as the
system's loader needs them on disk before any Python code runs.
"""

import importlib.machinery
import importlib.util
import os
import sys
import zlib


def _install():
    try:
        from _corral_lazy_index import EXTENSIONS
    except ImportError:
        return  # built without lazy extension modules

    home = sys._MEIPASS

    def extract(relative_path, payload_name):
        target = os.path.join(home, relative_path)
        if os.path.exists(target):
            return target
        os.makedirs(os.path.dirname(target), exist_ok=True)
        payload = importlib.import_module(payload_name)
        try:
            # Write beside the target and rename: another process of the
            # same run may be extracting the same file at the same time.
            scratch = f"{target}.{os.getpid()}.part"
            with open(scratch, "wb") as handle:
                handle.write(zlib.decompress(payload.DATA))
            os.chmod(scratch, 0o755)
            os.replace(scratch, target)
        finally:
            # The payload holds the whole file; do not keep it in memory.
            del payload.DATA
            sys.modules.pop(payload_name, None)
        return target

    class LazyExtensionFinder:
        """Finds the extension modules listed in _corral_lazy_index."""

        @classmethod
        def find_spec(cls, fullname, path=None, target=None):
            entry = EXTENSIONS.get(fullname)
            if entry is None:
                return None
            location = extract(*entry)
            loader = importlib.machinery.ExtensionFileLoader(fullname, location)
            return importlib.util.spec_from_file_location(
                fullname, location, loader=loader
            )

        @classmethod
        def invalidate_caches(cls):
            pass

    sys.meta_path.insert(0, LazyExtensionFinder)


_install()
del _install
