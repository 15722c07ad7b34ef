"""Which globals a pickled model may name: the libraries' own classes and functions, never what they import.

`checks.pickle_model` reads a pickle's opcodes without running them and blocks a pickle that would call
anything outside scikit-learn, numpy and scipy. A module prefix alone is not enough: those libraries'
modules import other things under their own names (`sklearn.datasets._base.makedirs` is `os.makedirs`,
`sklearn.utils._testing.check_output` is `subprocess.check_output`, `sklearn.utils.discovery.import_module`
and `sklearn.feature_selection._base.attrgetter` together reach any function), and loading a pickle that names
them calls them. `pickle.dumps` names every object where it is defined (its `__module__` and
`__qualname__`), so a model pickled by its library never names such a re-export: refusing all of them costs
a real model nothing.

The re-exports are found by importing the libraries and comparing each module attribute's own module with
the module that holds it (`foreign_reexports`); the list ships as `pickle_reexports.json`, generated with
`python -m egress_review.pickle_globals` from the versions installed, and a unit test fails when the installed
versions hold one the list lacks. Modules no model is pickled from (data downloaders, test helpers, build
tools, file formats) are refused whole, for versions the list was not made from, and so are the libraries'
own loaders and writers of files (`numpy.save` named in a pickle writes a file where it is loaded).
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import warnings
from functools import lru_cache
from pathlib import Path

LIBRARIES = ("sklearn", "numpy", "scipy")
SAFE_GLOBALS = ("sklearn.", "numpy.", "scipy.", "_codecs.encode", "copyreg._reconstructor", "collections.OrderedDict",
                "builtins.object", "builtins.slice", "builtins.set", "builtins.frozenset", "builtins.complex",
                "builtins.bytearray", "builtins.bytes")
# module name parts no fitted model lives under: dataset downloaders, test helpers, build and binding tools
NO_MODEL_MODULES = frozenset({"datasets", "testing", "_testing", "estimator_checks", "_test_common", "distutils",
                              "f2py", "_precompute", "_datasource", "ctypeslib", "discovery", "_configtool", "io"})
# the libraries' own file and code loaders and writers: loading a pickle that names one reads or writes files
# on the machine that loads it (numpy.save writes, numpy.load of a pickle runs it); no model is pickled with them
NO_MODEL_NAMES = frozenset({"save", "savez", "savez_compressed", "savetxt", "load", "loadtxt", "genfromtxt",
                            "fromfile", "fromregex", "memmap", "open_memmap", "DataSource", "recfromtxt",
                            "recfromcsv", "load_library", "compile", "savemat", "loadmat", "mmwrite", "mmread",
                            "dump", "dumps", "loads", "dump_svmlight_file", "load_svmlight_file"})
REEXPORTS = Path(__file__).with_name("pickle_reexports.json")
_SKIPPED_PARTS = ("tests", "_tests", "conftest")  # test packages, not installed everywhere and never pickled from


@lru_cache(maxsize=1)
def shipped_reexports() -> frozenset[str]:
    return frozenset(json.loads(REEXPORTS.read_text(encoding="utf-8"))["names"])


def is_safe(qualified: str) -> bool:
    """A global (`module.name`, Python 3 names) a model may name: safe-listed, its name a Python identifier
    (as every name `pickle.dumps` writes), not under a module no model lives under, and not an object another
    module defines imported under the library's name. (A dotted name, which loading walks from the module
    named to wherever it leads, is refused by the reader, which sees where the module ends.)"""
    if not qualified.startswith(SAFE_GLOBALS):
        return False
    module, _, name = qualified.rpartition(".")
    if not name.isidentifier() or name in NO_MODEL_NAMES or NO_MODEL_MODULES.intersection(module.split(".")):
        return False
    return qualified not in shipped_reexports()


def _owner(value: object) -> str | None:
    if inspect.ismodule(value):
        return value.__name__
    owner = getattr(value, "__module__", None)
    return owner if isinstance(owner, str) else None


def foreign_reexports() -> set[str]:
    """Every `module.name` of the installed libraries whose value a module outside the libraries defines
    (functions, classes and modules: what a pickle could load and call or hand on)."""
    found: set[str] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for top in LIBRARIES:
            package = importlib.import_module(top)
            inside = pkgutil.walk_packages(package.__path__, f"{top}.", onerror=lambda _n: None)
            names = [top, *(i.name for i in inside)]
            for name in names:
                if set(name.split(".")) & set(_SKIPPED_PARTS):
                    continue
                try:
                    module = importlib.import_module(name)
                except BaseException:  # optional parts need what is not installed: nothing to list
                    continue
                for attr, value in list(vars(module).items()):
                    if not (callable(value) or inspect.ismodule(value)):
                        continue
                    owner = _owner(value)
                    if owner is not None and owner.split(".")[0] not in LIBRARIES:
                        found.add(f"{name}.{attr}")
    return found


def main() -> None:
    """Write `pickle_reexports.json` from the libraries installed (run when their versions change)."""
    versions = {top: importlib.import_module(top).__version__ for top in LIBRARIES}
    names = sorted(foreign_reexports())
    REEXPORTS.write_text(json.dumps({"generated_from": versions, "names": names}, indent=0) + "\n", encoding="utf-8")
    print(f"{len(names)} re-exports of {versions} written to {REEXPORTS}")


if __name__ == "__main__":
    main()
