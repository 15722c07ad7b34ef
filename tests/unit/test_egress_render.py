"""Reviewed files are shown inert: nothing from a file becomes markup or script in the reviewer's page."""

from __future__ import annotations

import json

from egress_review import render
from egress_review.scan import scan_bytes
from enclave.settings import REPO_ROOT
from policies import load_policies

POLICY = load_policies(REPO_ROOT / "policies").egress


def shown(name: str, data: bytes) -> render.Rendered:
    return render.render(data, scan_bytes(name, data, POLICY).to_dict(), "/img")


def test_html_and_svg_are_shown_as_source():
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(3)"><script>x()</script></svg>'
    for name, data in (("r.html", b"<html><body><script>alert(1)</script><img src=x onerror=alert(2)></body></html>"),
                       ("p.svg", svg)):
        out = shown(name, data)
        assert out.kind == "lines" and "<script" not in out.html and "<svg" not in out.html and "<img" not in out.html
        assert "&lt;script&gt;" in out.html
        assert any("never rendered" in n for n in out.notes)


def test_notebook_outputs_are_escaped_and_only_raster_images_shown():
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{
        "cell_type": "code", "source": ["print('<b>hi</b>')"], "metadata": {}, "execution_count": 1,
        "outputs": [
            {"output_type": "display_data", "metadata": {}, "data": {
                "text/html": "<script>steal()</script>", "application/javascript": "steal()",
                "image/png": "iVBORw0KGgo=\" onerror=\"alert(1)"}},
        ]}]}
    out = shown("a.ipynb", json.dumps(nb).encode())
    assert out.kind == "notebook" and "<script" not in out.html and 'onerror="' not in out.html
    assert '<img class="out"' in out.html and "&lt;script&gt;steal()" in out.html


def test_tables_escape_cells_mark_formulas_and_highlight_findings():
    from tests.identifiers import RID

    data = f"g,n,note\na,3,<script>x</script>\nb,120,=HYPERLINK(\"http://x\")\nc,200,{RID}\n".encode()
    out = shown("t.csv", data)
    assert out.kind == "table" and "<script>" not in out.html and "&lt;script&gt;" in out.html
    assert 'class="formula"' in out.html
    assert out.html.count('<mark class="hit block"') >= 2  # the small count and the resident ID


def test_images_served_only_when_the_content_is_an_image():
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20
    assert render.image_bytes(png, "png") == (png, "image/png")
    assert render.image_bytes(b"<svg onload=alert(1)>", "png") is None
    assert render.image_bytes(b"<html>", "jpg") is None
