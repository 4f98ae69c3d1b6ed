"""toolkit.data.images: every reason a file is refused, and the odd files that still load."""

from __future__ import annotations

import io
import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from toolkit.data import images
from toolkit.data.images import ImageError, check_image, inspect_image, is_image_name, load_rgb


def _png_bytes(size: tuple[int, int] = (16, 16)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(buf, format="PNG")
    return buf.getvalue()


def _jpeg_bytes(size: tuple[int, int] = (64, 64)) -> bytes:
    buf = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(noise).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _png_with_header_size(width: int, height: int) -> bytes:
    """A real 16x16 PNG whose IHDR claims another size: a bomb that costs nothing to make."""
    data = bytearray(_png_bytes())
    ihdr = bytearray(data[12:29])  # b"IHDR" + 13 bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


# ----------------------------------------------------------------- refused files


def test_good_png_has_no_error_or_notes(tmp_path, make_image):
    path = make_image(tmp_path / "a.png")
    report = inspect_image(path)
    assert report.ok and report.notes == [] and report.size == (16, 16)
    assert check_image(path) is None


def test_zero_bytes(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    assert check_image(tmp_path / "empty.png") == "empty file (0 bytes)"


@pytest.mark.parametrize("name,data", [("t.png", _png_bytes()), ("t.jpg", _jpeg_bytes())])
@pytest.mark.parametrize("thorough", [True, False])
def test_truncated(tmp_path, name, data, thorough):
    path = tmp_path / name
    path.write_bytes(data[: len(data) // 2])
    error = inspect_image(path, thorough=thorough).error
    assert error is not None and error.startswith("truncated or corrupt image")


def test_text_named_jpg(tmp_path):
    (tmp_path / "notes.jpg").write_text("this is not a picture\n")
    assert check_image(tmp_path / "notes.jpg") == "not an image (the format is not recognised)"


def test_directory_named_like_an_image(tmp_path):
    (tmp_path / "x.jpg").mkdir()
    assert check_image(tmp_path / "x.jpg") == "a folder, not a file"


def test_broken_symlink_and_loop(tmp_path):
    (tmp_path / "broken.png").symlink_to(tmp_path / "missing.png")
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    assert check_image(tmp_path / "broken.png") == "broken symlink (its target does not exist)"
    assert check_image(tmp_path / "loop.png") == "symlink loop"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_unreadable(tmp_path, make_image, monkeypatch):
    path = make_image(tmp_path / "secret.png")
    if os.geteuid() != 0:
        os.chmod(path, 0)
    else:  # root reads anything: make opening fail exactly as chmod 000 would

        def deny(*args: object, **kwargs: object) -> None:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(images, "open", deny, raising=False)  # inspect_image's open()
        monkeypatch.setattr(Image, "open", deny)  # load_rgb opens through PIL
    assert check_image(path) == "unreadable: permission denied"
    with pytest.raises(ImageError, match="permission denied"):
        load_rgb(path)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_from_header(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_with_header_size(10_000, 10_000))
    error = check_image(path)
    assert error == "decompression bomb: 10000x10000 px is 100,000,000 pixels, the limit is 64,000,000"
    with pytest.raises(ImageError, match="decompression bomb"):
        load_rgb(path)


def test_decompression_bomb_beyond_pils_own_limit(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(_png_with_header_size(20_000, 20_000))  # PIL itself raises here
    assert check_image(path).startswith("decompression bomb: 400,000,000 pixels")


def test_bomb_limit_is_read_per_call(tmp_path, make_image, monkeypatch):
    path = make_image(tmp_path / "a.png", (40, 40))
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    assert check_image(path).startswith("decompression bomb: 40x40 px")
    assert Image.MAX_IMAGE_PIXELS != 1000  # PIL's global is untouched


def test_too_small(tmp_path, make_image):
    path = make_image(tmp_path / "dot.png", (1, 1))
    assert check_image(path) == "too small: 1x1 px, each side needs at least 8 px"


def test_extreme_aspect(tmp_path, make_image):
    path = make_image(tmp_path / "strip.png", (1, 400))
    assert check_image(path) == "extreme aspect ratio: 1x400 px is 400:1, the limit is 20:1"
    assert check_image(make_image(tmp_path / "ok.png", (8, 160))) is None  # exactly 20:1


# ----------------------------------------------------------------- odd but usable


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    values = (np.arange(256, dtype=np.uint16).reshape(16, 16) * 257).astype(np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(values).save(path)
    assert "16-bit image: scaled to 8-bit" in inspect_image(path).notes
    rgb = np.asarray(load_rgb(path))
    assert rgb.shape == (16, 16, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0, 0] == 0 and rgb[15, 15, 0] == 255 and rgb[8, 0, 0] == 128


def test_cmyk_jpeg(tmp_path, make_image):
    path = make_image(tmp_path / "c.jpg", mode="CMYK", color=(0, 255, 255, 0))
    assert inspect_image(path).notes == ["cmyk image: converted to rgb"]
    r, g, b = load_rgb(path).getpixel((8, 8))
    assert r > 200 and g < 60 and b < 60  # magenta + yellow ink = red


def test_palette_png_with_transparency_on_white(tmp_path):
    img = Image.new("P", (16, 16), 0)
    img.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    img.paste(1, (0, 0, 8, 16))  # left half blue, right half index 0 = transparent
    path = tmp_path / "p.png"
    img.save(path, transparency=0)
    assert "has transparency: composited on white" in inspect_image(path).notes
    out = load_rgb(path)
    assert out.mode == "RGB"
    assert out.getpixel((2, 2)) == (0, 0, 255) and out.getpixel((12, 2)) == (255, 255, 255)


def test_opaque_rgba_gets_no_transparency_note(tmp_path, make_image):
    path = make_image(tmp_path / "shot.png", mode="RGBA", color=(1, 2, 3, 255))
    assert inspect_image(path).notes == []
    assert load_rgb(path).getpixel((0, 0)) == (1, 2, 3)


def test_half_transparent_la_on_white(tmp_path, make_image):
    path = make_image(tmp_path / "la.png", mode="LA", color=(0, 128))
    assert load_rgb(path).getpixel((0, 0)) == (127, 127, 127)


def test_animated_gif_uses_first_frame(tmp_path):
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50)
    assert "3 frames: only the first is used" in inspect_image(path).notes
    assert load_rgb(path).getpixel((4, 4)) == (255, 0, 0)


def test_exif_rotated_jpeg_is_upright(tmp_path):
    img = Image.new("RGB", (32, 16), (255, 255, 255))
    img.paste((0, 0, 0), (0, 0, 8, 16))  # dark band on the left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = tmp_path / "phone.jpg"
    img.save(path, exif=exif, quality=95)
    assert "exif orientation 6: rotated on load" in inspect_image(path).notes
    out = load_rgb(path)
    assert out.size == (16, 32)
    assert sum(out.getpixel((8, 2))) < 100 and sum(out.getpixel((8, 29))) > 600  # band on top


def test_mislabelled_extension_is_a_note(tmp_path):
    path = tmp_path / "really_png.jpg"
    path.write_bytes(_png_bytes())
    assert inspect_image(path).notes == ["png data in a .jpg file"]
    assert load_rgb(path).size == (16, 16)


@pytest.mark.skipif(sys.platform != "linux", reason="bytes file names are a POSIX thing")
def test_non_utf8_file_name(tmp_path, make_image):
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9.png")
    make_image(raw)
    name = os.fsdecode(raw)  # a str with a surrogate escape, as os.scandir returns it
    assert check_image(name) is None and check_image(raw) is None
    assert load_rgb(name).size == (16, 16)


def test_strict_decoding_even_if_someone_loosened_pil(tmp_path, monkeypatch):
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = _jpeg_bytes()
    path = tmp_path / "t.jpg"
    path.write_bytes(data[: len(data) // 2])
    assert check_image(path).startswith("truncated or corrupt image")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored afterwards


def test_load_rgb_errors_name_the_file(tmp_path):
    (tmp_path / "bad.png").write_text("nope")
    with pytest.raises(ImageError) as info:
        load_rgb(tmp_path / "bad.png")
    assert info.value.reason == "not an image (the format is not recognised)"
    assert str(tmp_path / "bad.png") in str(info.value)


def test_extensions():
    assert is_image_name("A.JPG") and is_image_name("x.tiff") and is_image_name("y.WebP")
    assert not is_image_name("notes.txt") and not is_image_name("README")
    assert Path("x.jpeg").suffix in images.IMAGE_EXTENSIONS


def test_large_jpegs_decode_at_reduced_scale_only_when_much_larger(tmp_path):
    """Draft decoding: 1/2, 1/4, 1/8 of a JPEG's size, never below twice the target; PNGs untouched."""
    from PIL import Image

    from toolkit.data.images import load_rgb

    big = tmp_path / "big.jpg"
    Image.new("RGB", (1920, 1080), (30, 90, 200)).save(big, quality=90)
    assert load_rgb(big).size == (1920, 1080)
    assert load_rgb(big, reduce_for=(256, 256)).size == (960, 540)  # 1/2: 540 ≥ 2×256
    assert load_rgb(big, reduce_for=(64, 64)).size == (240, 135)  # 1/8
    assert load_rgb(big, reduce_for=(600, 600)).size == (1920, 1080)  # not twice the target at 1/2
    png = tmp_path / "big.png"
    Image.new("RGB", (1920, 1080), (30, 90, 200)).save(png)
    assert load_rgb(png, reduce_for=(64, 64)).size == (1920, 1080)
