"""Product pictures that staff upload: PNG, JPEG or WebP only, re-encoded so that nothing
but pixels survives.

What a file is, is read from its first bytes, never from its name or the content type the
browser sent: a script or an SVG renamed ``.png`` is none of the three and is refused
(SVG never: it can carry script). The size is capped before anything is decoded (a
setting, ``catalog_image_max_bytes``), and so is the number of pixels, from the header
alone, before the pixels are decoded: a few kilobytes can declare a picture of billions
of pixels (a decompression bomb). Pillow's own guard is set to the same number
(``Image.MAX_IMAGE_PIXELS``; it warns above it and refuses above twice it, and either is
answered as a refusal here).

A picture that passes is turned upright (its EXIF orientation), scaled to fit
``MAX_SIDE`` and copied pixel by pixel into a new image, which is saved as WebP at a
fixed quality: EXIF (with any GPS position), XMP, ICC profiles and comments stay behind
with the uploaded file, which is never written anywhere. The stored name is the SKU and a
digest of the new bytes, so a new picture is a new address and no browser or page cache
keeps showing the old one.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from quietshop.catalog import admin
from quietshop.errors import QuietshopError

MAX_PIXELS = 25_000_000  # 5,000 x 5,000: more than any product photo needs
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
MAX_SIDE = 1_600  # stored pictures fit this square
QUALITY = 82
STORED_FORMAT = "WEBP"
STORED_SUFFIX = ".webp"
# The signatures of the three formats taken, as Pillow names them.
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"


class UnsupportedImage(QuietshopError):
    """Not a PNG, JPEG or WebP file, whatever its name says."""

    status_code = 415
    code = "unsupported_image"

    def __init__(self) -> None:
        super().__init__("Upload a PNG, JPEG or WebP picture (this file is none of them).")


class ImageTooLarge(QuietshopError):
    status_code = 413
    code = "image_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The picture is larger than {limit / 1_048_576:.1f} MB.")


class ImageRefused(QuietshopError):
    """The file says it is a picture but cannot be one we keep (damaged, too many pixels)."""

    status_code = 422
    code = "image_refused"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def detail(self) -> list[dict[str, str]]:
        return [{"field": "image", "message": self.message}]


def sniff(data: bytes) -> str | None:
    """The format the bytes are, by their signature: "PNG", "JPEG", "WEBP", or None."""
    if data.startswith(_PNG):
        return "PNG"
    if data.startswith(_JPEG):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def reencoded(data: bytes, max_bytes: int) -> bytes:
    """The picture as the shop stores it (WebP, upright, at most MAX_SIDE, no metadata),
    or UnsupportedImage, ImageTooLarge or ImageRefused."""
    if len(data) > max_bytes:
        raise ImageTooLarge(max_bytes)
    if not data:
        raise ImageRefused("The file is empty.")
    kind = sniff(data)
    if kind is None:
        raise UnsupportedImage()
    try:
        with Image.open(io.BytesIO(data), formats=[kind]) as image:
            if image.width * image.height > MAX_PIXELS:
                raise _TooManyPixels()
            image.load()
            clean = _pixels_only(image)
    except (_TooManyPixels, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused(
            f"The picture has more than {MAX_PIXELS:,} pixels; send a smaller one."
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise ImageRefused(f"The file is damaged or not a whole {kind} picture.") from None
    out = io.BytesIO()
    clean.save(out, STORED_FORMAT, quality=QUALITY, method=4)
    return out.getvalue()


class _TooManyPixels(Exception):
    pass


def _pixels_only(image: Image.Image) -> Image.Image:
    """A new image holding only the pixels: upright, scaled down, in RGB or RGBA."""
    upright = ImageOps.exif_transpose(image)
    transparent = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
    converted = upright.convert("RGBA" if transparent else "RGB")
    converted.thumbnail((MAX_SIDE, MAX_SIDE))
    return Image.frombytes(converted.mode, converted.size, converted.tobytes())


@dataclass(frozen=True)
class StoredImage:
    file_name: str
    edited: admin.Edited


def _file_name(sku: str, encoded: bytes) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", sku.lower()).strip("-") or "product"
    return f"{words[:40]}-{hashlib.sha256(encoded).hexdigest()[:16]}{STORED_SUFFIX}"


def _write(directory: Path, name: str, data: bytes) -> Path:
    """Write whole or not at all: a temporary file in the same folder, then renamed."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)  # served as a public file, like the demo's pictures
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def save_product_image(
    session: Session, images_dir: Path, sku: str, data: bytes, max_bytes: int
) -> StoredImage:
    """Check and re-encode an uploaded picture, store it in ``images_dir`` (served at
    /images/) and make it the product's, in the caller's transaction. Nothing is stored
    for a refused file or a product that does not exist. The previous picture's file
    stays: pages cached before the change may still show it for a while."""
    admin.require_product(session, sku)
    encoded = reencoded(data, max_bytes)
    name = _file_name(sku, encoded)
    existed = (images_dir / name).exists()  # the same picture again: the same file
    path = _write(images_dir, name, encoded)
    try:
        edited = admin.set_product_image(session, sku, name)
    except BaseException:
        if not existed:
            path.unlink(missing_ok=True)
        raise
    return StoredImage(name, edited)
