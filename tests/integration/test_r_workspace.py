"""R beside Python in a real workspace of the demo project: JupyterLab offers the R kernel, an R notebook reads
the project's Parquet dataset with its types and draws Chinese labels, and matplotlib draws them too."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from enclave_demo.data import DEMO_PROJECT
from tests.integration.conftest import Enclave, HubSession, run_in, running_workspaces


@pytest.fixture(scope="module")
def running(enclave: Enclave) -> Iterator[dict[str, HubSession]]:
    with running_workspaces(enclave, {"alice": DEMO_PROJECT}) as sessions:
        yield sessions


def sh(container, script: str, **env: str) -> str:
    """A shell script inside the workspace, as its own user; its stdout (a failure shows its stderr)."""
    res = container.exec_run(["bash", "-c", script], environment=env, demux=True)
    out, err = res.output
    assert res.exit_code == 0, (err or out or b"").decode()[-3000:]
    return (out or b"").decode()


def test_jupyterlab_offers_the_r_kernel(enclave: Enclave, running):
    alice = running["alice"]
    assert alice.open_lab().status_code == 200
    specs = alice.http.get(f"{enclave.url}/user/alice/api/kernelspecs", timeout=30).json()["kernelspecs"]
    r = [s["spec"] for s in specs.values() if s["spec"]["language"] == "R"]
    assert [s["display_name"] for s in r] == ["R"], specs.keys()


# The R notebook: the dataset as a data.frame (its column types and regions for the test to compare with
# pyarrow's), then the same ggplot twice: Chinese title, axis titles and tick labels (zh.png), and everything
# in Latin letters (latin.png, the control).
R_CELLS = [
    'd <- enclave_read_parquet(PARQUET)\n'
    'cat(jsonlite::toJSON(list(nrow = nrow(d), classes = lapply(d, function(x) class(x)[1]),\n'
    '                          regions = sort(unique(d$region))), auto_unbox = TRUE))',
    'library(ggplot2)\n'
    'zh <- ggplot(d, aes(x = region, y = length_of_stay)) + geom_boxplot() +\n'
    '  labs(title = "各地区住院天数", x = "地区", y = "住院天数（天）")\n'
    'ggsave(file.path(OUT, "zh.png"), zh, width = 6, height = 4, dpi = 100)\n'
    'latin <- ggplot(d, aes(x = sex, y = length_of_stay)) + geom_boxplot() +\n'
    '  labs(title = "Length of stay by sex", x = "Sex", y = "Days")\n'
    'ggsave(file.path(OUT, "latin.png"), latin, width = 6, height = 4, dpi = 100)',
]
# The image's fontconfig with its CJK font rejected, as an image without one would be: Chinese becomes
# missing-glyph boxes, and everything else is drawn exactly as before
NO_CJK_FONTS = """<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><include>/etc/fonts/fonts.conf</include>
<selectfont><rejectfont><glob>/usr/share/fonts/truetype/wqy/*</glob></rejectfont></selectfont></fontconfig>"""
COMPARE = r"""
import json
import numpy as np
from matplotlib.image import imread
def changed(a, b):
    a, b = imread(a), imread(b)
    return float(np.mean(np.any(a != b, axis=-1))) if a.shape == b.shape else 1.0
print(json.dumps({name: changed(f"/tmp/r-cjk/{name}.png", f"/tmp/r-no-cjk/{name}.png") for name in ("zh", "latin")}))
"""


def r_notebook(parquet: str, out: str) -> str:
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
              "source": c.replace("PARQUET", json.dumps(parquet)).replace("OUT", json.dumps(out))} for c in R_CELLS]
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": cells,
                       "metadata": {"kernelspec": {"name": "ir", "display_name": "R", "language": "R"}}})


def run_r_notebook(container, parquet: str, out: str, **env: str) -> dict:
    """Executes the notebook with nbconvert on the R kernel, as a researcher would; the first cell's output."""
    sh(container, f"mkdir -p {out} && cat > {out}/nb.ipynb <<'EOF'\n{r_notebook(parquet, out)}\nEOF\n"
       f"jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=300 {out}/nb.ipynb "
       f"--output-dir {out} --output done", **env)
    done = json.loads(sh(container, f"cat {out}/done.ipynb"))
    return json.loads("".join("".join(o["text"]) for o in done["cells"][0]["outputs"] if o["output_type"] == "stream"))


def test_an_r_notebook_reads_the_projects_parquet_and_draws_chinese_labels(enclave: Enclave, running):
    ws = enclave.container("alice")
    parquet = sh(ws, "find /data -name '*.parquet' | sort | head -n 1").strip()
    assert parquet.startswith("/data/"), "no Parquet dataset mounted in the demo project's workspace"
    want = run_in(ws, f"""
import json, pyarrow.parquet as pq
t = pq.read_table({parquet!r})
print(json.dumps({{"nrow": t.num_rows, "regions": sorted(set(t.column("region").to_pylist())),
                  "types": {{f.name: str(f.type) for f in t.schema}}}}))""")
    got = run_r_notebook(ws, parquet, "/tmp/r-cjk")
    assert got["nrow"] == want["nrow"] and got["regions"] == want["regions"]  # Chinese text intact
    r_class = {"string": "character", "large_string": "character", "int32": "integer", "int64": "numeric",
               "double": "numeric", "bool": "logical"}
    assert got["classes"] == {name: r_class[t] for name, t in want["types"].items()}

    sh(ws, f"cat > /tmp/no-cjk.conf <<'EOF'\n{NO_CJK_FONTS}\nEOF")
    run_r_notebook(ws, parquet, "/tmp/r-no-cjk", FONTCONFIG_FILE="/tmp/no-cjk.conf")
    changed = run_in(ws, COMPARE)
    # Latin-only: the same pixels either way, so the comparison is fair; Chinese: the CJK font drew glyphs where
    # an image without it draws boxes (an image missing the font would give the same pixels here too)
    assert changed["latin"] == 0.0, changed
    assert changed["zh"] > 0.001, changed


TYPES = r"""
import datetime, pyarrow as pa, pyarrow.parquet as pq
pq.write_table(pa.table({
    "day": [datetime.date(2024, 2, 29), None],
    "at": pa.array([datetime.datetime(2024, 1, 1, 8, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=8))),
                    None], pa.timestamp("ms", tz="Asia/Shanghai")), "grade": pa.array(["甲", None]).dictionary_encode(),
    "count": pa.array([2**40, None], pa.int64()), "small": pa.array([7, None], pa.int16()), "ok": [True, None],
    "note": [None, "备注"]}), "/tmp/types.parquet")
"""
READ_TYPES = """d <- enclave_read_parquet("/tmp/types.parquet")
cat(jsonlite::toJSON(list(classes = lapply(d, function(x) class(x)[1]), na = lapply(d, function(x) which(is.na(x))),
  day = format(d$day[1]), at = format(d$at[1], tz = "Asia/Shanghai"), grade = I(levels(d$grade)), count = d$count[1],
  small = d$small[1], note = d$note[2]), auto_unbox = TRUE, digits = NA))"""


def test_enclave_read_parquet_keeps_types_and_missing_values(enclave: Enclave, running):
    ws = enclave.container("alice")
    sh(ws, f"python - <<'EOF'\n{TYPES}\nEOF")
    got = json.loads(sh(ws, f"Rscript -e '{READ_TYPES}'"))
    assert got["classes"] == {"day": "Date", "at": "POSIXct", "grade": "factor", "count": "numeric",
                              "small": "integer", "ok": "logical", "note": "character"}
    assert got["na"] == {"day": 2, "at": 2, "grade": 2, "count": 2, "small": 2, "ok": 2, "note": 1}
    assert (got["day"], got["at"], got["grade"], got["count"], got["small"], got["note"]) == (
        "2024-02-29", "2024-01-01 08:30:00", ["甲"], 2**40, 7, "备注")
    # a wrong path: one sentence in the workspace's language, no R traceback
    res = ws.exec_run(["Rscript", "-e", 'enclave_read_parquet("/data/nope.parquet")'],
                      environment={"ENCLAVE_LANG": "zh-CN"}, demux=True)
    err = (res.output[1] or b"").decode()
    assert res.exit_code != 0 and "不是 Parquet 文件" in err and "/data/nope.parquet" in err, err


def test_install_packages_in_r_says_there_is_no_network_and_what_to_do(enclave: Enclave, running):
    res = enclave.container("alice").exec_run(["Rscript", "-e", 'install.packages("arrow")'],
                                              environment={"ENCLAVE_LANG": "zh-CN"}, demux=True)
    err = (res.output[1] or b"").decode()
    assert res.exit_code != 0 and err.startswith("Error: install.packages：本工作区按设计没有网络连接"), err
    assert "enclave-packages request" in err and "/workspace/imports/" in err and "Traceback" not in err, err


MATPLOTLIB = r"""
import json, warnings
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
def draw(**rc):
    with warnings.catch_warnings(record=True) as caught, plt.rc_context(rc):
        warnings.simplefilter("always")
        fig, ax = plt.subplots()
        ax.bar(["北京", "上海"], [-3, 5])  # a negative tick: the minus sign too
        ax.set_title("各地区住院天数"); ax.set_xlabel("地区"); ax.set_ylabel("住院天数")
        fig.savefig("/tmp/mpl-zh.png")
        plt.close(fig)
    return [str(w.message) for w in caught]
print(json.dumps({"image": draw(), "sans_serif": draw(**{"font.family": "sans-serif"}),  # as seaborn themes ask
                  "dejavu_only": draw(**{"font.family": "DejaVu Sans"})}))
"""


def test_matplotlib_draws_chinese_labels_without_missing_glyphs(enclave: Enclave, running):
    r = run_in(enclave.container("alice"), MATPLOTLIB)
    for case in ("image", "sans_serif"):  # the image's defaults, and a plot asking for sans-serif
        assert not [w for w in r[case] if "missing from font" in w], (case, r[case])
    # the control: with the image's CJK font left out, matplotlib does warn, so the check above can fail
    assert any("missing from font" in w for w in r["dejavu_only"]), r["dejavu_only"]
