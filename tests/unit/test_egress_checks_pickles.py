"""The pickle rules of egress_review/checks.py (`pickle_model`) called on pickles built here, with whole results:
what a pickle would build is read from its opcodes without running it, globals outside the safe list block,
models that store rows block, and tree models block below MIN_LEAF = 5 rows per leaf. Found untested by the
mutation benchmark (benchmarks/mutation.py): the scan tests look for one finding among several."""

from __future__ import annotations

import os
import pickle
import pickletools
from typing import Any

import pytest

from egress_review import checks
from egress_review.findings import Finding, Verdict

X, Y = [[0], [1], [2], [3]], [0, 1, 0, 1]


def sklearn_class(name: str) -> Any:
    """Imported when a test runs, not while tests are collected: sklearn starts a thread when imported, and the
    mutation benchmark forks its workers from the process that collected the tests (a thread there can hang them)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier
    return {"forest": RandomForestClassifier, "svm": SVC, "tree": DecisionTreeClassifier}[name]
UNREAD = "<a global that cannot be read without running the pickle>"


def told(found: list[Finding]) -> list[tuple[str, str, str | None, str]]:
    return [(f.check, f.verdict.value, f.rule, f.detail) for f in found]


def builds(classes: str) -> tuple[str, str, str, str]:
    return ("model", "review", "binary-output",
            f"pickled object: not human-readable, never passes automatically (builds {classes})")


def calls(globals_: str) -> tuple[str, str, str, str]:
    return ("model", "block", "pickle-globals", f"loading it would call {globals_}: not a model")


def test_min_leaf_is_the_limit_the_tests_below_were_worked_out_for():
    assert checks.MIN_LEAF == 5


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_a_pickle_of_plain_data_goes_to_review_and_builds_nothing(protocol: int):
    assert told(checks.pickle_model(pickle.dumps({"a": 1, "b": [2.5, "x"]}, protocol=protocol))) == [
        builds("no classes")]


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_a_pickle_that_would_call_functions_outside_the_safe_list_blocks_and_names_them(protocol: int):
    # at protocol 4 the second global's module name comes from the memo (`posix` was stored for the first)
    found = checks.pickle_model(pickle.dumps([os.system, os.popen, os.system], protocol=protocol))
    assert told(found) == [builds("os.popen, posix.system"), calls("os.popen, posix.system")]


def test_a_pickle_of_safe_globals_only_goes_to_review():
    from collections import OrderedDict
    found = checks.pickle_model(pickle.dumps(OrderedDict(a=1), protocol=4))
    assert told(found) == [builds("collections.OrderedDict")]


def test_a_pickle_names_at_most_eight_classes_built_and_five_unsafe_calls():
    functions = [os.getcwd, os.getpid, os.listdir, os.popen, os.remove, os.rename, os.rmdir, os.system, os.unlink]
    found = checks.pickle_model(pickle.dumps(functions, protocol=4))
    names = sorted(f"{f.__module__}.{f.__name__}" for f in functions)
    assert len(names) == 9
    assert told(found) == [builds(", ".join(names[:8])), calls(", ".join(names[:5]))]


@pytest.mark.parametrize("data", [
    b"\x80\x02\x82\x01.",  # EXT1: a global from the copyreg extension registry
    b"\x80\x04K\x01K\x02\x93.",  # STACK_GLOBAL after two integers
    b"\x80\x04\x93.",  # STACK_GLOBAL with nothing pushed before it
])
def test_a_global_the_opcodes_do_not_name_blocks_as_unreadable(data: bytes):
    assert told(checks.pickle_model(data)) == [builds(UNREAD), calls(UNREAD)]


def test_a_global_whose_name_the_reader_cannot_follow_blocks_as_unreadable_even_beside_a_safe_module_name():
    # 'mean' reaches the stack from a memo slot stored after a POP, which the reader does not follow: it reads the
    # module 'numpy' but not the name, and half a global is no safe-listed one (loading gives numpy.mean here, but
    # the same stream can carry any name)
    import numpy as np

    data = b"\x80\x04\x8c\x04meanK\x010q\x000" + b"\x8c\x05numpyh\x00\x93."
    assert pickle.loads(data) is np.mean
    assert told(checks.pickle_model(data)) == [builds(UNREAD), calls(UNREAD)]


def test_a_protocol_0_inst_opcode_calls_the_global_it_names_and_blocks_naming_it():
    # INST ('i'), Python 2's way to build an instance, calls module.name with the arguments after the mark
    assert pickle.loads(b"(S'7'\ni__builtin__\nint\n.") == 7
    found = checks.pickle_model(b"(S'echo hi'\nios\nsystem\n.")  # the classic shell command on loading
    assert told(found) == [builds("os.system"), calls("os.system")]


def test_a_memo_store_before_anything_is_pushed_does_not_stop_the_reader_naming_the_globals_after_it():
    # such a stream cannot be loaded (stack underflow), like STACK_GLOBAL with nothing pushed: the reader reads on,
    # as it does there, and says what the rest would call instead of giving up on the file
    data = b"\x80\x04\x94" + b"cos\nsystem\n."
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(data)
    assert told(checks.pickle_model(data)) == [builds("os.system"), calls("os.system")]


def test_a_malformed_pickle_blocks_as_an_unreadable_binary():
    found = checks.pickle_model(b"\x80\x04garbage")
    assert [(f.check, f.verdict.value, f.rule) for f in found] == [("model", "block", "binary-output")]
    assert found[0].detail.startswith("pickle cannot be parsed: ")


def test_a_fitted_svm_blocks_as_storing_training_rows():
    found = checks.pickle_model(pickle.dumps(sklearn_class("svm")().fit(X, Y), protocol=4))
    assert told(found)[1:] == [("model", "block", "stores-rows", "SVM / k-NN models store training rows")]


def small_leaves(leaf: int) -> tuple[str, str, str, str]:
    return ("model", "block", "min_samples_leaf>=5",
            f"tree-based model with min_samples_leaf={leaf}: leaves this small memorise rows")


@pytest.mark.parametrize("protocol", [2, 4])
@pytest.mark.parametrize(("leaf", "blocked"), [(1, True), (4, True), (5, False), (6, False)])
def test_a_fitted_tree_blocks_below_five_rows_per_leaf(leaf: int, blocked: bool, protocol: int):
    found = checks.pickle_model(pickle.dumps(sklearn_class("tree")(min_samples_leaf=leaf).fit(X, Y),
                                             protocol=protocol))
    assert told(found)[1:] == ([small_leaves(leaf)] if blocked else [])


@pytest.mark.parametrize(("leaf", "blocked"), [(2, True), (5, False)])
def test_a_fitted_tree_pickled_at_protocol_5_with_its_arrays_as_bytearrays_is_read_like_any_other(
        leaf: int, blocked: bool):
    # protocol 5 (pickle.HIGHEST_PROTOCOL) writes numpy's buffers with BYTEARRAY8, whose argument cannot be a key
    data = pickle.dumps(sklearn_class("tree")(min_samples_leaf=leaf).fit(X, Y), protocol=5)
    assert "BYTEARRAY8" in {op.name for op, _, _ in pickletools.genops(data)}
    found = checks.pickle_model(data)
    assert [(f.verdict.value, f.rule) for f in found] == [("review", "binary-output")] + (
        [("block", "min_samples_leaf>=5")] if blocked else [])
    assert told(found)[1:] == ([small_leaves(leaf)] if blocked else [])


@pytest.mark.parametrize("trees", [1, 3])
@pytest.mark.parametrize(("leaf", "blocked"), [(1, True), (2, True), (4, True), (5, False)])
def test_a_fitted_forest_is_judged_by_its_trees_setting_not_by_its_unfitted_templates_default(
        trees: int, leaf: int, blocked: bool):
    # the forest pickles its own setting, each tree's (the same) and its template tree's default of 1 once
    forest = sklearn_class("forest")(n_estimators=trees, min_samples_leaf=leaf, random_state=0).fit(X, Y)
    assert told(checks.pickle_model(pickle.dumps(forest, protocol=4)))[1:] == ([small_leaves(leaf)] if blocked else [])


def test_a_tree_model_whose_leaf_setting_cannot_be_read_goes_to_review():
    found = checks.pickle_model(pickle.dumps(sklearn_class("tree"), protocol=4))
    assert told(found) == [builds("sklearn.tree._classes.DecisionTreeClassifier"),
                           ("model", "review", "min_samples_leaf>=5",
                            "tree-based model: min_samples_leaf could not be read")]


def test_the_leaf_settings_of_an_ensemble_drop_a_value_seen_once_beside_one_seen_twice_or_more():
    forest = ["sklearn.ensemble._forest.RandomForestClassifier"]
    assert checks._fitted_leaf_settings([5, 1, 5], forest) == [5, 5]
    assert checks._fitted_leaf_settings([5, 1], forest) == [5, 1]  # no value seen twice: both count
    assert checks._fitted_leaf_settings([2, 2, 2], forest) == [2, 2, 2]
    assert checks._fitted_leaf_settings([5, 1, 5], ["sklearn.tree._classes.DecisionTreeClassifier"]) == [5, 1, 5]


def test_a_frame_boundary_between_the_leaf_settings_name_and_its_value_does_not_hide_it():
    # protocol 4 cuts a pickle into frames of 64 KiB; a new FRAME opcode may fall between a dict's key and its value
    def frame(size: int) -> bytes:
        return b"\x95" + size.to_bytes(8, "little")
    data = (b"\x80\x04" + frame(18) + b"\x8c\x10min_samples_leaf" + frame(2) + b"K\x02"
            + b"csklearn.tree._classes\nDecisionTreeClassifier\n.")
    assert told(checks.pickle_model(data)) == [builds("sklearn.tree._classes.DecisionTreeClassifier"), small_leaves(2)]


TREE_GLOBAL = b"csklearn.tree._classes\nDecisionTreeClassifier\n"


def test_memo_slots_are_read_by_the_index_the_pickle_gives_them_not_by_their_order():
    # a hand-written pickle may store its strings in any memo slot (BINPUT 9), not only the next free one
    key = b"\x8c\x10min_samples_leaf"
    data = b"\x80\x04" + key + b"q\x09K\x05" + b"h\x09K\x02" + TREE_GLOBAL + b"."
    assert told(checks.pickle_model(data)) == [builds("sklearn.tree._classes.DecisionTreeClassifier"), small_leaves(2)]
    functions = b"\x80\x04\x8c\x05posixq\x07\x8c\x06systemq\x03h\x07h\x03\x93."
    assert told(checks.pickle_model(functions)) == [builds("posix.system"), calls("posix.system")]


def test_python_2_names_of_protocol_0_are_read_as_python_3_loads_them():
    """A model pickled at protocol 0 names '__builtin__.object' and 'copy_reg._reconstructor'; unpickling maps
    them to builtins and copyreg, so they are the same globals, and '__builtin__.eval' is still eval."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(np.arange(40.0).reshape(20, 2), np.arange(20) % 2)
    assert [f.verdict for f in checks.pickle_model(pickle.dumps(model, protocol=0))] == [Verdict.REVIEW]
    found = checks.pickle_model(b"c__builtin__\neval\n(S'1'\ntR.")
    assert [(f.verdict, f.detail) for f in found if f.rule == "pickle-globals"] == [
        (Verdict.BLOCK, "loading it would call builtins.eval: not a model")]


def test_a_python_2_global_renamed_in_python_3_is_named_by_the_module_and_name_python_3_loads():
    # GLOBAL '__builtin__ xrange', BININT1 5, TUPLE1, REDUCE: Python 3 loads xrange as builtins.range (module and
    # name both renamed, by the standard library's NAME_MAPPING), so the finding names the global actually called
    data = b"\x80\x02c__builtin__\nxrange\nK\x05\x85R."
    assert pickle.loads(data) == range(5)
    assert told(checks.pickle_model(data)) == [builds("builtins.range"), calls("builtins.range")]


@pytest.mark.parametrize("data", [
    b"\x80\x04\x8c\x16sklearn.datasets._base\x8c\tos.getcwd\x93)R.",  # STACK_GLOBAL module, dotted name; call
    b"\x80\x04csklearn.datasets._base\nos.getcwd\n)R.",  # GLOBAL after PROTO 4 follows the dots as well
])
def test_a_dotted_global_name_that_walks_from_a_safe_module_to_another_one_blocks_naming_the_walk(data: bytes):
    # from protocol 4 on, loading follows a dotted name attribute by attribute from the module named: a safe
    # module prefix ('sklearn.') then reaches whatever that module imported (here os.getcwd, as well os.system)
    assert pickle.loads(data) == os.getcwd()
    walk = "sklearn.datasets._base.os.getcwd"
    assert told(checks.pickle_model(data)) == [builds(walk), calls(walk)]



def test_every_object_the_installed_libraries_import_under_their_own_names_is_refused():
    # a model pickled by its library names each object where it is defined; the same object under the name of a
    # library module that imported it (sklearn.datasets._base.makedirs is os.makedirs) is a way past the prefix
    from egress_review import pickle_globals

    found = pickle_globals.foreign_reexports()
    assert {"sklearn.datasets._base.makedirs", "sklearn.utils.discovery.import_module"} <= found
    let_through = sorted(name for name in found if pickle_globals.is_safe(name))
    assert let_through == [], f"run `python -m egress_review.pickle_globals`: {let_through[:10]}"


@pytest.mark.parametrize("data", [
    # import_module('os') handed to attrgetter('getcwd'), the function it returns called: any function, by name
    b"csklearn.feature_selection._base\nattrgetter\n(S'getcwd'\ntR(csklearn.utils.discovery\nimport_module\n"
    b"(S'os'\ntRtR(tR.",
    b"csklearn.datasets._base\nlistdir\n(S'.'\ntR.",  # os.listdir, imported by a dataset downloader
])
def test_a_pickle_that_reaches_the_system_through_what_a_safe_library_imported_blocks(data: bytes):
    assert pickle.loads(data) in (os.getcwd(), os.listdir("."))  # what loading it really does
    found = checks.pickle_model(data)
    assert [f.verdict for f in found] == [Verdict.REVIEW, Verdict.BLOCK]
    assert found[1].rule == "pickle-globals"


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_everyday_fitted_models_name_only_what_their_libraries_define_and_go_to_review(protocol: int):
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    x, y = np.arange(40, dtype=float).reshape(20, 2), np.array([0, 1] * 10)
    models = [make_pipeline(FunctionTransformer(np.log1p), StandardScaler(), LogisticRegression()).fit(x, y),
              HistGradientBoostingClassifier(max_iter=3, min_samples_leaf=5).fit(x, y),
              KMeans(n_clusters=2, n_init=1, random_state=0).fit(x)]
    for model in models:
        found = checks.pickle_model(pickle.dumps(model, protocol=protocol))
        assert Verdict.BLOCK not in [f.verdict for f in found], (type(model).__name__, told(found))


def test_a_pickle_that_would_write_a_file_with_the_librarys_own_writer_blocks(tmp_path):
    import numpy as np

    target = tmp_path / "written_on_loading.npy"
    data = b"cnumpy\nsave\n(V" + str(target).encode() + b"\nI7\ntR."  # numpy.save(path, 7) when loaded
    pickle.loads(data)
    assert np.load(target) == 7  # loading it wrote the file
    found = checks.pickle_model(data)
    assert told(found) == [builds("numpy.save"), calls("numpy.save")]


def test_the_shipped_list_of_allowed_globals_is_what_the_installed_libraries_models_name():
    # the list is generated, not written by hand: a version change that names more (or less) fails here, and
    # `python -m egress_review.pickle_globals` regenerates it for review
    from egress_review import pickle_globals

    assert pickle_globals.generated_allowed() == set(pickle_globals.allowed_globals())
