"""`real_screens.py`'s X session: Xvfb with openbox, screenshots of real programs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from real_screens_common import (W, H)


# -- X ------------------------------------------------------------------------------------------
class XSession:
    """Xvfb at 1280x720 with openbox, for as long as the ``with`` lasts; every process it starts
    is ended by its own id at the end."""

    def __init__(self, home: Path):
        self.home = home
        self.procs: list[subprocess.Popen] = []

    def __enter__(self):
        self.display = next(f":{n}" for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists()
                            and not Path(f"/tmp/.X{n}-lock").exists())
        shutil.rmtree(self.home, ignore_errors=True)
        (self.home / "Desktop").mkdir(parents=True)
        self.env = {**os.environ, "DISPLAY": self.display, "HOME": str(self.home), "LANG": "C.UTF-8",
                    "XDG_CONFIG_HOME": str(self.home / ".config"), "XDG_RUNTIME_DIR": str(self.home / "run"),
                    "NO_AT_BRIDGE": "1", "GTK_THEME": "Adwaita"}
        (self.home / "run").mkdir(mode=0o700)
        self.start(["Xvfb", self.display, "-screen", "0", f"{W}x{H}x24", "-nolisten", "tcp", "-dpi", "96"])
        for _ in range(100):
            if Path(f"/tmp/.X11-unix/X{self.display[1:]}").exists():
                break
            time.sleep(0.1)
        self.start(["openbox"])
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        for p in reversed(list(self.procs)):
            self.stop(p)

    def start(self, argv, env=None):
        p = subprocess.Popen(argv, env={**self.env, **(env or {})}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(p)
        return p

    def stop(self, p):
        """End ``p`` and what it started (its own process group: started with a new session)."""
        import signal

        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                break
            try:
                p.wait(timeout=10)
                time.sleep(0.2)
                os.killpg(p.pid, 0)  # children still there?
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                break
        if p in self.procs:
            self.procs.remove(p)

    def grab(self, path: Path):
        from PIL import ImageGrab

        img = ImageGrab.grab(xdisplay=self.display).convert("RGB")
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path)
        return path

    def xdotool(self, *args, check=False):
        return subprocess.run(["xdotool", *args], env=self.env, capture_output=True, timeout=60, check=check)

    def wait_window(self, pattern: str, timeout: float = 90.0) -> str | None:
        end = time.time() + timeout
        while time.time() < end:
            r = self.xdotool("search", "--onlyvisible", "--name", pattern)
            ids = r.stdout.decode().split()
            if ids:
                return ids[-1]
            time.sleep(0.5)
        return None

    # desktop ---------------------------------------------------------------------------------
    def desktop_start(self):
        for app in ["debian-xterm", "org.xfce.mousepad", "pcmanfm", "libreoffice-impress", "chromium",
                    "libreoffice-startcenter", "libreoffice-draw", "vim"]:
            src = Path("/usr/share/applications") / f"{app}.desktop"
            if src.exists():
                shutil.copyfile(src, self.home / "Desktop" / src.name)
        for doc in ["README.md", "notes.txt"]:
            (self.home / "Desktop" / doc).write_text("notes\n")
        for sub in ["Documents", "Pictures", "Projects"]:
            (self.home / "Desktop" / sub).mkdir(exist_ok=True)
        cfg = self.home / ".config" / "tint2"
        cfg.mkdir(parents=True, exist_ok=True)
        rc = Path("/etc/xdg/tint2/tint2rc").read_text()
        (cfg / "tint2rc").write_text(re.sub(r"^panel_items = .*$", "panel_items = LTS", rc, flags=re.M))  # no clock
        pcfg = self.home / ".config" / "pcmanfm" / "default"
        pcfg.mkdir(parents=True, exist_ok=True)
        (pcfg / "desktop-items-0.conf").write_text("[*]\nwallpaper_mode=crop\nwallpaper_common=1\n"
                                                   "desktop_bg=#000000\ndesktop_fg=#ffffff\ndesktop_shadow=#000000\n"
                                                   "show_wm_menu=0\nshow_documents=0\nshow_trash=1\nshow_mounts=0\n")
        self.start(["pcmanfm", "--desktop"])
        self.start(["tint2"])
        time.sleep(3.0)

    def desktop_shot(self, wall: Path, mode: str, png: Path, deck: str, window: bool | None = None) -> dict:
        subprocess.run(["pcmanfm", f"--set-wallpaper={wall}", f"--wallpaper-mode={mode}"], env=self.env,
                       timeout=60, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        p = None
        before = set(self.xdotool("search", "--onlyvisible", "--name", ".").stdout.decode().split())
        if window is not None:
            argv = (["xterm", "-geometry", "80x20+300+180", "-e", "less", "/etc/services"] if window
                    else ["pcmanfm", "--new-win", "/usr/share/doc"])
            p = self.start(argv)
            time.sleep(2.0)
        time.sleep(0.8)
        self.grab(png)
        if p is not None:
            self.stop(p)
            self.close_new_windows(before)
        return {"name": png.stem, "deck": deck, "png": png}

    def app_shot(self, argv, png: Path, deck: str, wait: float, maximize: bool = False, env=None) -> dict:
        before = set(self.xdotool("search", "--onlyvisible", "--name", ".").stdout.decode().split())
        p = self.start(argv, env=env)
        time.sleep(wait)
        if maximize:
            self.xdotool("key", "super+Up")
            win = self.xdotool("getactivewindow").stdout.decode().strip()
            if win:
                self.xdotool("windowsize", win, "100%", "100%")
                self.xdotool("windowmove", win, "0", "0")
            time.sleep(0.8)
        self.grab(png)
        self.stop(p)
        self.close_new_windows(before)
        return {"name": png.stem, "deck": deck, "png": png}

    def close_new_windows(self, before: set[str]) -> None:
        """Close windows that appeared since ``before`` (pcmanfm opens them in its desktop process)."""
        time.sleep(0.3)
        for win in set(self.xdotool("search", "--onlyvisible", "--name", ".").stdout.decode().split()) - before:
            self.xdotool("windowactivate", "--sync", win)
            self.xdotool("key", "--window", win, "ctrl+w")
        time.sleep(0.5)

    # impress ---------------------------------------------------------------------------------
    def impress(self, deck: Path, folder: Path, pages: int) -> list[dict]:
        profile = self.home / "lo-profile"
        argv = ["soffice", "--norestore", "--nologo", "--nodefault", f"-env:UserInstallation=file://{profile}"]
        if deck.suffix == ".pdf":
            argv += ["--infilter=impress_pdf_import"]
        p = self.start(argv + [str(deck)])
        win = self.wait_window("LibreOffice Impress", timeout=120)
        shots = []
        if win is None:
            self.stop(p)
            return shots
        time.sleep(4.0)  # let it draw the slide pane and the properties
        self.xdotool("windowactivate", "--sync", win)
        self.xdotool("mousemove", "80", "400", "click", "1")
        time.sleep(0.5)
        self.xdotool("key", "Home")  # the first slide: shot k shows page k
        time.sleep(1.0)
        stem = deck.stem
        for k in range(pages):
            png = folder / f"impress-{stem}-{k + 1:02d}.png"
            self.xdotool("mousemove", "560", "130")  # the pointer out of the way (no tooltip there)
            time.sleep(1.5)
            self.grab(png)
            shots.append({"name": png.stem, "deck": f"impress-{stem}", "png": png, "page": k + 1})
            self.xdotool("mousemove", "80", "400")
            self.xdotool("key", "Next")
            time.sleep(0.5)
        self.stop(p)
        for _ in range(40):  # let the office process go before the next document
            if subprocess.run(["pgrep", "-f", f"UserInstallation=file://{profile}"], capture_output=True).returncode:
                break
            time.sleep(0.25)
        return shots

