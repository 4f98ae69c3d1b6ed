"""`real_screens.py`'s settings: the frame size, how many images per class, the Debian
packages and files it uses."""

from __future__ import annotations

import os
from pathlib import Path

W, H = 1280, 720
DEFAULT_OUT = Path(os.environ.get("TK_CACHE_DIR") or Path.home() / ".cache" / "tk") / "real_screens"
VERSION = 1

PACKAGES = ["xvfb", "xdotool", "x11-utils", "xterm", "openbox", "tint2", "pcmanfm", "mousepad", "poppler-utils",
            "libreoffice-impress", "chromium", "desktop-base", "gnome-backgrounds", "fonts-dejavu-core",
            "texlive-latex-recommended-doc", "texlive-latex-recommended", "texlive-latex-base", "texlive-pictures",
            "texlive-fonts-recommended", "lmodern", "adwaita-icon-theme"]
TOOLS = ["Xvfb", "xdotool", "openbox", "tint2", "pcmanfm", "mousepad", "xterm", "pdftoppm", "pdftotext", "soffice",
         "chromium", "pdflatex"]

#: images per class (copies included), the reference's order of sizes (slide 2530 ... black/blue 4)
COUNTS = {"slide": 300, "not_slide_others": 96, "not_slide_desktop": 36, "may_be_slide_powerpoint_edit_mode": 28,
          "not_slide_no_signal": 20, "may_be_slide_powerpoint_side_screen": 14, "not_slide_black_or_blue_screen": 10}

BEAMER = Path("/usr/share/doc/texlive-doc/latex/beamer")
SOLUTIONS = [("conference", "solutions/conference-talks/conference-ornate-20min.{}.tex.gz"),
             ("generic", "solutions/generic-talks/generic-ornate-15min-45min.{}.tex.gz"),
             ("speaker", "solutions/short-talks/speaker_introduction-ornate-2min.{}.tex")]
LANGS = ["en", "de", "fr"]
THEMES = ["Madrid", "Warsaw", "Berlin", "CambridgeUS", "Copenhagen", "AnnArbor", "Singapore", "Frankfurt",
          "Malmoe", "PaloAlto", "Goettingen", "Boadilla", "Antibes", "Rochester", "Szeged", "Ilmenau",
          "Montpellier", "Darmstadt"]
LO_TEMPLATES = Path("/usr/lib/libreoffice/share/template/common/presnt")
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
CURSORS = Path("/usr/share/icons/Adwaita/cursors")
ICONS = Path("/usr/share/icons/Adwaita/48x48")

TOASTS = [("Software Updates", "4 updates are ready to install"), ("Battery low", "12% remaining"),
          ("Network connected", "Wired connection 1"), ("Download complete", "report-2023.pdf"),
          ("Calendar", "Team meeting in 5 minutes"), ("Screenshot taken", "Saved to Pictures"),
          ("New message", "Can you send the slides?"), ("Recording", "Screen recording started")]
NO_SIGNAL = ["No Signal", "NO SIGNAL", "No Input Signal", "HDMI 1\nNo Signal", "No Source Found",
             "Check signal cable", "DP  No Signal", "Input: HDMI 2\nNo signal detected"]

