"""Which globals a pickled model may name: exactly those that pickles of real models name, nothing else.

`checks.pickle_model` reads a pickle's opcodes without running them, and loading a pickle calls every
global it names with arguments the pickle chooses. A module prefix ("anything in sklearn, numpy or scipy")
is no rule: those libraries hold functions that import a module by name and return any of its attributes
(`scipy._lib._uarray._backend.unpickle_function('os', 'system')`, `numpy.core._ufunc_reconstruct`),
that import, write or truncate files (`scipy.sparse.save_npz`, `numpy.lib._npyio_impl.zipfile_factory`),
that set attributes (`builtins.set` was a prefix of `builtins.setattr`), and names that are modules, which a
BUILD opcode rewrites. Pickle's own documentation says the same: restrict globals to a known list.

The list (`pickle_allowed.json`) is what pickles of the installed libraries' estimators name, fitted and
unfitted, at every protocol, with the arrays, sparse matrices, random states and numeric functions
(ufuncs) models hold: generated with `python -m egress_review.pickle_globals` when their versions change.
A pickle naming anything else is refused with the name; a model that needs more is exported another way
(its coefficients as a table) or the list is regenerated from a reviewed change.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pickle
import pickletools
import pkgutil
import warnings
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

LIBRARIES = ("sklearn", "numpy", "scipy")
ALLOWED = Path(__file__).with_name("pickle_allowed.json")
# named by pickles of plain data the libraries' objects hold (bytes at protocols 0-2, ordered dicts, sets)
BUILTINS = ("builtins.object", "builtins.slice", "builtins.set", "builtins.frozenset", "builtins.complex",
            "builtins.bytearray", "builtins.bytes", "collections.OrderedDict", "copyreg._reconstructor",
            "_codecs.encode")
# numpy 1's names of numpy 2's array builders (`numpy.core` is kept as an alias of `numpy._core`)
NUMPY_1_ALIASES = ("numpy.core.multiarray._reconstruct", "numpy.core.multiarray.scalar",
                   "numpy.core.numeric._frombuffer")
_STRING_OPS = ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING", "SHORT_BINSTRING")
_SKIPPED_PARTS = ("tests", "_tests", "conftest")  # test packages, not installed everywhere and never pickled from


@lru_cache(maxsize=1)
def allowed_globals() -> frozenset[str]:
    return frozenset(json.loads(ALLOWED.read_text(encoding="utf-8"))["globals"])


def is_safe(qualified: str) -> bool:
    """A global (`module.name`, as Python 3 loads it) that pickles of real models name."""
    return qualified in allowed_globals()


def names_in(data: bytes, python3_name: Callable[[str], str]) -> set[str]:
    """The globals a pickle names (module and name pushed as strings, directly or from the memo)."""
    found: set[str] = set()
    pushed: list[object] = []
    memo: dict[int, object] = {}
    for op, arg, _pos in pickletools.genops(data):
        if op.name in ("GLOBAL", "INST"):
            found.add(python3_name(str(arg).replace(" ", ".")))
        elif op.name == "STACK_GLOBAL" and len(pushed) >= 2:
            found.add(python3_name(f"{pushed[-2]}.{pushed[-1]}"))
        if op.name in ("MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"):
            memo[len(memo) if op.name == "MEMOIZE" else int(arg)] = pushed[-1] if pushed else None
            continue
        got = memo.get(arg) if op.name in ("GET", "BINGET", "LONG_BINGET") else None
        value = arg if op.name in _STRING_OPS else got
        pushed = [*pushed[-1:], value if isinstance(value, str) else None]
    return found


def _models() -> Iterator[object]:
    """Every estimator of the installed scikit-learn, fitted where it fits on small data, and unfitted; the
    meta-estimators around a simple model; the arrays, matrices and random states models carry."""
    import numpy as np
    import scipy.sparse as sp
    import sklearn.experimental.enable_halving_search_cv  # noqa: F401  (experimental estimators are models too,
    import sklearn.experimental.enable_iterative_imputer  # noqa: F401  and all_estimators lists them once imported)
    from sklearn.base import clone
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier
    from sklearn.utils import all_estimators

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4))
    labels, target = np.array([0, 1, 2] * 20), x[:, 0] * 2 + 1
    binary = np.array([0, 1] * 30)
    fits = ((np.abs(x), labels), (x, labels), (x, binary), (x, target), (np.abs(x), target), (x, np.abs(target)),
            (np.abs(x),), (x,), (x, np.c_[target, target]), (x, np.c_[binary, binary]),
            (["a patient note", "another note", "a third"] * 20, labels), (labels,))
    inner: list[dict[str, Any]] = [{}, {"estimator": LogisticRegression()}, {"estimator": LinearRegression()},
                                   {"estimators": [("a", LogisticRegression()), ("b", DecisionTreeClassifier())]},
                                   {"steps": [("s", StandardScaler()), ("m", LogisticRegression())]},
                                   {"transformer_list": [("s", StandardScaler())]},
                                   {"transformers": [("s", StandardScaler(), [0, 1])]},
                                   {"estimator": LogisticRegression(), "param_grid": {"C": [1, 2]}},
                                   {"estimator": LogisticRegression(), "param_distributions": {"C": [1, 2]}},
                                   {"base_estimator": LogisticRegression()}, {"dictionary": x[:2]}]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _name, cls in all_estimators():
            for kwargs in inner:
                try:
                    est = cls(**kwargs)
                except Exception:  # this estimator takes other arguments
                    continue
                yield est
                for args in fits:  # each kind of data it fits: a binary and a multi-class loss name different classes
                    try:
                        yield clone(est).fit(*args)
                    except Exception:  # not this kind of data
                        continue
                break
    yield from (getattr(np, n) for n in dir(np) if isinstance(getattr(np, n), np.ufunc))
    for kind in ("?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16", "U3", "S3", "O",
                 "M8[D]", "m8[s]"):
        array = np.zeros(3, dtype=kind)
        yield from (array, array[0], np.dtype(kind), np.ma.masked_array(array, mask=[1, 0, 0]))
    yield from (np.array([[1, 2], [3, 4]], order="F"), np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]))
    for fmt in ("csr", "csc", "coo", "lil", "dok", "bsr", "dia"):
        yield sp.random(4, 4, density=0.5, format=fmt, random_state=0)
        yield sp.random_array((4, 4), density=0.5, format=fmt, random_state=0)
    yield from (np.random.RandomState(0), np.random.default_rng(0))


def generated_allowed() -> set[str]:
    """What the installed libraries' models and data name, at protocols 0 to 5."""
    from egress_review.checks import _python3_name

    found = set(BUILTINS) | set(NUMPY_1_ALIASES)
    for obj in _models():
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            try:
                data = pickle.dumps(obj, protocol=protocol)
            except Exception:  # some objects cannot be pickled at old protocols
                continue
            found |= names_in(data, _python3_name)
    return found


def _owner(value: object) -> str | None:
    if inspect.ismodule(value):
        return value.__name__
    owner = getattr(value, "__module__", None)
    return owner if isinstance(owner, str) else None


def foreign_reexports() -> set[str]:
    """Every `module.name` of the installed libraries whose value a module outside them defines (functions,
    classes and modules): none of them may be on the list (a model is pickled by where it is defined)."""
    found: set[str] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for top in LIBRARIES:
            package = importlib.import_module(top)
            inside = pkgutil.walk_packages(package.__path__, f"{top}.", onerror=lambda _n: None)
            for name in [top, *(i.name for i in inside)]:
                if set(name.split(".")) & set(_SKIPPED_PARTS):
                    continue
                try:
                    module = importlib.import_module(name)
                except BaseException:  # optional parts need what is not installed: nothing to list
                    continue
                for attr, value in list(vars(module).items()):
                    owner = _owner(value) if callable(value) or inspect.ismodule(value) else None
                    if owner is not None and owner.split(".")[0] not in LIBRARIES:
                        found.add(f"{name}.{attr}")
    return found


def main() -> None:
    """Write `pickle_allowed.json` from the libraries installed (run when their versions change; review the diff)."""
    versions = {top: importlib.import_module(top).__version__ for top in LIBRARIES}
    names = sorted(generated_allowed())
    ALLOWED.write_text(json.dumps({"generated_from": versions, "globals": names}, indent=0) + "\n", encoding="utf-8")
    print(f"{len(names)} globals of {versions} written to {ALLOWED}")


if __name__ == "__main__":
    main()
