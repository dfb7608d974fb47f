"""Uploaded product pictures: PNG, JPEG and WebP only, told by their bytes; re-encoded
as WebP with no metadata (a GPS position in EXIF does not survive); a script renamed
.png, an SVG, a 50 MB file, a decompression bomb and a truncated file are refused with a
clear 4xx and nothing is stored. Pictures are made here, with Pillow."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.catalog import images, service
from quietshop.catalog.images import ImageRefused, ImageTooLarge, UnsupportedImage
from quietshop.catalog.models import Product
from quietshop.errors import NotFound
from tests.catalog.factories import make_category, make_product

LIMIT = 5 * 1024 * 1024
GPS_IFD = 0x8825


def picture(
    kind: str, size: tuple[int, int] = (64, 48), mode: str = "RGB", **save: object
) -> bytes:
    image = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else (200, 30, 30, 128))
    out = io.BytesIO()
    image.save(out, kind, **save)
    return out.getvalue()


def with_gps(kind: str = "JPEG") -> bytes:
    """A photo that says where it was taken (EXIF GPS), and who took it."""
    exif = Image.Exif()
    exif[0x010F] = "Phone Maker"  # Make
    exif[0x013B] = "Ann Example"  # Artist
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 39.0)})
    return picture(kind, exif=exif.tobytes(), icc_profile=b"\0" * 128 if kind == "PNG" else None)


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def png_declaring(width: int, height: int) -> bytes:
    """A few hundred bytes whose header claims a huge picture: a decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------- what is kept


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "WEBP"])
def test_each_taken_format_is_stored_as_webp(kind: str) -> None:
    stored = images.reencoded(picture(kind), LIMIT)
    assert images.sniff(stored) == "WEBP"
    assert decoded(stored).size == (64, 48)


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "WEBP"])
def test_no_metadata_survives_gps_included(kind: str) -> None:
    original = with_gps(kind)
    assert decoded(original).getexif().get_ifd(GPS_IFD)  # the upload does carry a position
    stored = images.reencoded(original, LIMIT)
    image = decoded(stored)
    assert dict(image.getexif()) == {}
    assert image.getexif().get_ifd(GPS_IFD) == {}
    assert "exif" not in image.info and "icc_profile" not in image.info and "xmp" not in image.info
    assert b"Ann Example" not in stored and b"Phone Maker" not in stored and b"EXIF" not in stored


def test_a_transparent_png_keeps_its_transparency() -> None:
    stored = images.reencoded(picture("PNG", mode="RGBA"), LIMIT)
    assert decoded(stored).mode == "RGBA"


def test_a_big_picture_is_scaled_to_fit_and_an_exif_turn_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees to show upright
    wide = picture("JPEG", size=(3200, 1000), exif=exif.tobytes())
    stored = decoded(images.reencoded(wide, LIMIT))
    assert stored.size == (500, 1600)  # upright (1000 x 3200), then fitted in 1600


# ---------------------------------------------------------------- what is refused


@pytest.mark.parametrize(
    "data",
    [
        b"#!/bin/sh\nrm -rf /\n",
        b"<?php system($_GET['c']); ?>",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        b"RIFF\x00\x00\x00\x00WAVEfmt ",
    ],
    ids=["shell script", "php", "svg", "gif", "wav"],
)
def test_anything_but_png_jpeg_or_webp_is_refused_whatever_its_name(data: bytes) -> None:
    with pytest.raises(UnsupportedImage) as caught:
        images.reencoded(data, LIMIT)
    assert (caught.value.status_code, caught.value.code) == (415, "unsupported_image")


def test_a_file_over_the_limit_is_refused_before_it_is_decoded() -> None:
    fifty_megabytes = b"\x89PNG\r\n\x1a\n" + bytes(50 * 1024 * 1024)
    with pytest.raises(ImageTooLarge) as caught:
        images.reencoded(fifty_megabytes, LIMIT)
    assert caught.value.status_code == 413
    assert str(caught.value) == "The picture is larger than 5.0 MB."


@pytest.mark.parametrize(
    "size", [(100_000, 100_000), (6_000, 6_000)], ids=["far over", "just over"]
)
def test_a_decompression_bomb_is_refused_from_its_header(size: tuple[int, int]) -> None:
    bomb = png_declaring(*size)
    assert len(bomb) < 1_000
    with pytest.raises(ImageRefused) as caught:
        images.reencoded(bomb, LIMIT)
    assert caught.value.status_code == 422
    assert caught.value.detail() == [
        {
            "field": "image",
            "message": "The picture has more than 25,000,000 pixels; send a smaller one.",
        }
    ]


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "WEBP"])
def test_a_truncated_file_is_refused(kind: str) -> None:
    whole = picture(kind, size=(300, 200))
    with pytest.raises(ImageRefused, match="damaged or not a whole"):
        images.reencoded(whole[: len(whole) // 2], LIMIT)


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(ImageRefused, match="empty"):
        images.reencoded(b"", LIMIT)


def test_a_signature_alone_is_refused_as_damaged() -> None:
    with pytest.raises(ImageRefused):
        images.reencoded(b"\xff\xd8\xff" + b"\0" * 100, LIMIT)


# ---------------------------------------------------------------- stored for a product


def test_a_saved_picture_is_the_products_and_is_served_from_the_images_folder(
    db: Session, tmp_path: Path
) -> None:
    sku = make_product(db, make_category(db), name="Pictured Cable")
    last = service.changes_since(db, None).last_id
    stored = images.save_product_image(db, tmp_path, sku, with_gps(), LIMIT)
    assert stored.file_name.startswith(f"{sku.lower()}-") and stored.file_name.endswith(".webp")
    assert [path.name for path in tmp_path.iterdir()] == [stored.file_name]
    assert b"Ann Example" not in (tmp_path / stored.file_name).read_bytes()
    image_file = db.execute(select(Product.image_file).where(Product.sku == sku)).scalar_one()
    assert image_file == stored.file_name
    assert service.get_product(db, sku).image_url == f"/images/{stored.file_name}"
    # Listings show pictures: that product and the listings, not everything.
    feed = service.changes_since(db, last).changes
    assert [(c.product_sku, c.listings, c.everything) for c in feed] == [(sku, True, False)]
    assert stored.edited.fields == ("products.image_file",)


def test_nothing_is_stored_for_a_refused_file_or_an_unknown_product(
    db: Session, tmp_path: Path
) -> None:
    sku = make_product(db, make_category(db))
    with pytest.raises(UnsupportedImage):
        images.save_product_image(db, tmp_path, sku, b"<svg/>", LIMIT)
    with pytest.raises(NotFound):
        images.save_product_image(db, tmp_path, "NO-SUCH", picture("PNG"), LIMIT)
    assert list(tmp_path.iterdir()) == []
    assert db.execute(select(Product.image_file).where(Product.sku == sku)).scalar_one() is None
