"""Data hidden in an image's pixels (not its chunks): the rebuild clears the lowest bit of every channel,
pixels that look like noise or like text read as bytes go to review, the pixel bytes are read as text by
the personal-data checks, and the policy can send every image to review (no OCR reads visible text)."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image, ImageDraw

from egress_review.findings import Verdict
from egress_review.scan import scan_bytes
from enclave.settings import REPO_ROOT
from policies import load_policies
from tests.identifiers import RID

POLICY = load_policies(REPO_ROOT / "policies").egress
PHONE = "13812345678"


def encoded(im: Image.Image, fmt: str = "PNG", **save: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **save)
    return buf.getvalue()


def bar_chart(size: tuple[int, int] = (400, 300)) -> Image.Image:
    """What researchers export: a white background, a few flat bars, an axis and labels."""
    im = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(im)
    for i, h in enumerate((120, 200, 80, 160, 40)):
        d.rectangle([40 + 60 * i, 260 - h, 80 + 60 * i, 260], fill=(70, 130, 180))
    d.line([(30, 260), (380, 260)], fill="black", width=2)
    for i in range(5):
        d.text((40 + 60 * i, 268), f"{20 + 10 * i}-{29 + 10 * i}", fill="black")
    d.text((120, 10), "Admissions by age band", fill="black")
    return im


def pixels(result_bytes: bytes) -> bytes:
    return Image.open(io.BytesIO(result_bytes)).tobytes()


def test_drawn_charts_pass_as_png_and_jpeg():
    assert scan_bytes("bars.png", encoded(bar_chart()), POLICY).verdict == Verdict.PASS
    assert scan_bytes("bars.jpg", encoded(bar_chart(), "JPEG", quality=85), POLICY).verdict == Verdict.PASS


def test_text_packed_as_grey_pixels_is_flagged_and_does_not_survive_the_rebuild():
    payload = "\n".join(f"{RID},Li Hua,{PHONE}" for _ in range(400)).encode()
    width = 256
    im = Image.frombytes("L", (width, -(-len(payload) // width)), payload.ljust(-(-len(payload) // width) * width,
                                                                                b"\0"))
    result = scan_bytes("chart.png", encoded(im), POLICY)
    assert result.verdict != Verdict.PASS
    assert any("could carry data" in f.detail for f in result.findings)
    assert result.rebuilt is not None and pixels(result.rebuilt)[:len(payload)] != payload


def test_noise_like_pixels_go_to_review_even_without_text():
    rng = random.Random(7)  # values above 127: nothing here reads as text, only the statistics can tell
    noise = Image.frombytes("RGB", (200, 200), bytes(rng.randrange(128, 256) for _ in range(200 * 200 * 3)))
    result = scan_bytes("figure.png", encoded(noise), POLICY)
    assert result.verdict == Verdict.REVIEW and any("could carry data" in f.detail for f in result.findings)


def test_an_identifier_in_the_lowest_bits_of_a_chart_is_erased_by_the_rebuild():
    px = bytearray(bar_chart().tobytes())
    bits = "".join(f"{c:08b}" for c in RID.encode())
    for i, bit in enumerate(bits):
        px[i] = (px[i] & 0xFE) | int(bit)
    result = scan_bytes("bars.png", encoded(Image.frombytes("RGB", (400, 300), bytes(px))), POLICY)
    assert result.rebuilt is not None
    assert all(b & 1 == 0 for b in pixels(result.rebuilt))
    assert any("lowest bit" in n for n in result.rebuild_notes)


def test_an_identifier_as_palette_colours_is_found():
    im = Image.new("P", (len(RID) // 3 + 1, 1))
    im.putpalette(list(RID.encode()) + [0] * (768 - len(RID)))
    im.putdata(list(range(len(RID) // 3 + 1)))
    assert scan_bytes("legend.png", encoded(im), POLICY).verdict == Verdict.BLOCK


def test_an_identifier_written_one_grey_level_per_block_row_is_found_in_a_jpeg():
    rows = bytes(c for c in RID.encode() for _ in range(64))
    im = Image.frombytes("L", (64, len(RID)), rows)
    assert scan_bytes("blocks.jpg", encoded(im, "JPEG", quality=100), POLICY).verdict == Verdict.BLOCK


def test_every_image_goes_to_review_when_the_policy_says_so():
    strict = POLICY.model_copy(update={"images": "review"})
    result = scan_bytes("bars.png", encoded(bar_chart()), strict)
    assert result.verdict == Verdict.REVIEW and any("not read automatically" in f.detail for f in result.findings)


def png_16bit_rgba(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = zlib.compress((b"\x00" + b"\x00" * width * 8) * height)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


def test_the_image_cap_counts_bytes_per_pixel_not_only_pixels():
    # 16-bit RGBA: 8 bytes a pixel. Under the pixel cap, over the byte budget: refused before decoding.
    budget = POLICY.model_copy(update={"max_image_bytes": 600 * 600 * 4})
    result = scan_bytes("plot.png", png_16bit_rgba(600, 600), budget)
    assert result.verdict == Verdict.BLOCK and result.rebuilt is None
    assert any(f.rule == "max_image_bytes" for f in result.findings)
    assert scan_bytes("plot.png", png_16bit_rgba(300, 300), budget).verdict == Verdict.PASS
