"""Profile pictures: whatever image is uploaded becomes a small square WebP.

The upload is decoded, turned upright, cropped to its centre square, resized and encoded
anew, which also drops every byte of metadata (camera, location) the original carried.
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

from livechat.errors import BadRequest

AVATAR_PIXELS = 128
MAX_SOURCE_PIXELS = 40_000_000
# MPO is how Pillow names the two-picture JPEGs that cameras and phones write.
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "GIF", "WEBP"})


def process_avatar(data: bytes) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as source:
            if source.format not in ACCEPTED_FORMATS:
                raise BadRequest("Avatars can be JPG, PNG, GIF or WebP images.")
            if source.width * source.height > MAX_SOURCE_PIXELS:
                raise BadRequest("That image has too many pixels for an avatar.")
            upright = ImageOps.exif_transpose(source).convert("RGBA")
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise BadRequest("That file is not an image we can read.") from None
    square = ImageOps.fit(upright, (AVATAR_PIXELS, AVATAR_PIXELS), Image.Resampling.LANCZOS)
    output = io.BytesIO()
    square.save(output, format="WEBP", quality=85)
    return output.getvalue()
