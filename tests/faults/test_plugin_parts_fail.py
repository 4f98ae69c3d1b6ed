"""A third-party loss, augmentation op or command that fails *while it runs* is one line naming it,
its recipe key and its plugin — never a traceback through tk's loop (docs/plugins.md: every failure
in your plugin's code is one line naming the plugin).

The package is written here and pip-installed for real, and its module imports torch at the top
as real plugins do. One environment variable picks how it misbehaves, so one install serves every
case: an op that raises, returns only the images, or halves their size; a loss that raises,
returns one value per image, or returns None; a command that raises.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.testing import make_image_folder

from .conftest import one_error_line, subprocess_env, write_recipe
from .plugin_packages import Package, install

BODY = '''\
import os

import click
import torch
import torch.nn.functional as F

from toolkit import Callback, hookimpl

BREAK = os.environ.get("ACME_BREAK", "")


def acme_op(num_classes, image_size):
    def op(images, targets):
        if BREAK == "op_raises":
            raise RuntimeError("acme op deliberately broken")
        if BREAK == "op_returns_images":
            return images
        if BREAK == "op_resizes":
            return F.interpolate(images, scale_factor=0.5), targets
        if BREAK == "op_drops_target":
            return images, targets[:-1]
        return images, targets
    return op


def acme_loss(num_classes, smoothing: float = 0.0):
    def loss(logits, targets):
        if BREAK == "loss_raises":
            raise RuntimeError("acme loss deliberately broken")
        if BREAK == "loss_per_image":
            return F.cross_entropy(logits, targets, reduction="none")
        if BREAK == "loss_none":
            return None
        if BREAK == "loss_detached":
            return F.cross_entropy(logits, targets).detach()
        return F.cross_entropy(logits, targets)
    return loss


class AcmeWatch(Callback):
    def on_validation_end(self, state):
        if BREAK == "metric_text":
            state.metrics["acme_margin"] = "high"
        elif BREAK == "metric_tensor":
            state.metrics["acme_margin"] = torch.tensor([0.1, 0.2])
        else:
            state.metrics["acme_margin"] = 0.5

    def state_dict(self):
        return {"fn": (lambda: 1)} if BREAK == "state_lambda" else {"seen": 1}

    def load_state_dict(self, state):
        pass


def acme_watch():
    return AcmeWatch()


@click.command("acme-hello")
def hello():
    raise RuntimeError("acme command deliberately broken")


@click.command("acme-wait")
def wait():
    """Says it is ready, then waits: for a real Ctrl-C."""
    import time

    print("ready", flush=True)
    time.sleep(120)


@click.command("run")
def run():
    """Named like tk's own command: not added."""


@hookimpl
def tk_register_augmentations(register):
    register("acme_op", acme_op)


@hookimpl
def tk_register_losses(register):
    register("acme_loss", acme_loss)


@hookimpl
def tk_register_callbacks(register):
    register("acme_watch", acme_watch)


@hookimpl
def tk_register_commands(cli):
    cli.add_command(hello)
    cli.add_command(run)
    cli.add_command(wait)
'''

ACME = Package("tk-acme-parts", "acme_parts", "a plugin whose parts misbehave on demand", BODY)
PLUGIN = "plugin 'acme_parts' (tk-acme-parts 1.0)"

CASES = {
    "op_raises": f"The augmentation 'acme_op' (augment.ops[0], {PLUGIN}) failed: RuntimeError: acme op deliberately",
    "op_returns_images": f"The augmentation 'acme_op' (augment.ops[0], {PLUGIN}) returned a Tensor of shape",
    "op_resizes": f"The augmentation 'acme_op' (augment.ops[0], {PLUGIN}) turned images of shape (4, 3, 32, 32) "
                  f"into a Tensor of shape (4, 3, 16, 16)",
    "loss_raises": f"The loss 'acme_loss' (loss, {PLUGIN}) failed: RuntimeError: acme loss deliberately broken",
    "loss_per_image": f"The loss 'acme_loss' (loss, {PLUGIN}) returned a Tensor of shape (4,); a loss returns one "
                      f"number for the batch",
    "loss_none": f"The loss 'acme_loss' (loss, {PLUGIN}) returned None; a loss returns one number",
    "loss_detached": f"The loss 'acme_loss' (loss, {PLUGIN}) returned a number the model's outputs do not reach "
                     f"(detached, or computed without them)",
    "op_drops_target": f"The augmentation 'acme_op' (augment.ops[0], {PLUGIN}) returned a Tensor of shape (3,) as the "
                       f"targets of 4 images; an augmentation op returns one target per image",
    "metric_text": f"Callback 'acme_watch' ({PLUGIN}) set state.metrics['acme_margin'] to 'high' in on_validation_end; "
                   f"a metric is one number",
    "metric_tensor": f"Callback 'acme_watch' ({PLUGIN}) set state.metrics['acme_margin'] to a Tensor of shape (2,) in "
                     f"on_validation_end; a metric is one number",
    "state_lambda": f"Callback 'acme_watch' ({PLUGIN}) returned a function at state_dict()['fn'] from state_dict; a "
                    f"checkpoint keeps numbers, strings, None, tensors",
}


@pytest.fixture(scope="module")
def acme_site(tmp_path_factory) -> Path:
    return install([ACME], tmp_path_factory.mktemp("acme"))


@pytest.fixture(scope="module")
def acme_recipe(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("acme_run")
    images = make_image_folder(work / "images", {"a": 6, "b": 6}, size=32)
    return write_recipe(work / "acme.toml", images, epochs=1,
                        extra='[loss]\nname = "acme_loss"\n\n[[augment.ops]]\nname = "acme_op"\n\n'
                              '[[train.callbacks]]\nname = "acme_watch"\n')


def _tk(site: Path, *args: str, cwd: Path, mode: str) -> subprocess.CompletedProcess:
    env = subprocess_env(PYTHONPATH=str(site), ACME_BREAK=mode)
    return subprocess.run([sys.executable, "-m", "toolkit.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("mode", sorted(CASES))
def test_a_part_failing_in_the_loop_is_one_line_naming_it_and_its_plugin(acme_site, acme_recipe, tmp_path, mode):
    done = _tk(acme_site, "run", str(acme_recipe), "--out", str(tmp_path / "run"), cwd=tmp_path, mode=mode)
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert CASES[mode] in line, line


def test_the_healthy_parts_train_and_a_raising_command_is_one_line(acme_site, acme_recipe, tmp_path):
    done = _tk(acme_site, "run", str(acme_recipe), "--out", str(tmp_path / "run"), cwd=tmp_path, mode="")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "best.pt").is_file()
    done = _tk(acme_site, "acme-hello", cwd=tmp_path, mode="")
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert line.startswith(f"Error: The command 'acme-hello' ({PLUGIN}) failed: RuntimeError: acme command "
                           f"deliberately broken"), line
    listed = _tk(acme_site, "plugins", cwd=tmp_path, mode="")
    assert listed.returncode == 0, listed.stderr
    assert "run (not added: tk has its own)" in " ".join(listed.stdout.split()), listed.stdout

    # the run resumed where the package is not installed: the checkpoint names the plugin it was made with
    run = tmp_path / "run"
    elsewhere = subprocess.run([sys.executable, "-m", "toolkit.cli", "run", str(run / "recipe.toml"), "--resume", str(run)],
                               cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert elsewhere.returncode == 1
    line = one_error_line(elsewhere.stderr)
    assert ("loss.name: unknown loss 'acme_loss': the run was made with it from plugin 'acme_parts' (tk-acme-parts 1.0), "
            "which is not installed here: pip install 'tk-acme-parts==1.0'.") in line, line

    # resumed with version 2.0 of the package, whose loss renamed a parameter: the error says the plugin changed
    v2 = Package(ACME.dist, ACME.entry, ACME.what, ACME.body.replace("smoothing: float = 0.0", "eps: float = 0.0"))
    site2 = install([v2], tmp_path / "v2", version="2.0")
    newer = subprocess.run([sys.executable, "-m", "toolkit.cli", "run", str(run / "recipe.toml"), "--resume", str(run)],
                           cwd=tmp_path, env=subprocess_env(PYTHONPATH=str(site2)), capture_output=True, text=True,
                           timeout=300)
    changed = ("loss 'acme_loss' was plugin 'acme_parts' (tk-acme-parts 1.0) when the run was made; here it is plugin "
               "'acme_parts' (tk-acme-parts 2.0)")
    assert changed in " ".join((newer.stdout + newer.stderr).split()), newer.stdout + newer.stderr


def test_a_value_of_the_wrong_type_for_a_typed_parameter_is_refused_by_recipes_check(acme_site, acme_recipe, tmp_path):
    """The factory's annotation (``smoothing: float``) is checked before anything runs: `tk recipes check`
    said ok and `tk run` failed inside the plugin with "'<=' not supported ..."."""
    recipe = tmp_path / "typed.toml"
    recipe.write_text(acme_recipe.read_text().replace('name = "acme_loss"\n', 'name = "acme_loss"\nsmoothing = "abc"\n'))
    done = _tk(acme_site, "recipes", "check", str(recipe), cwd=tmp_path, mode="")
    assert done.returncode != 0
    line = one_error_line(done.stderr)
    assert "loss.smoothing: loss 'acme_loss' takes float for 'smoothing', not 'abc'." in line, line
    recipe.write_text(acme_recipe.read_text().replace('name = "acme_loss"\n', 'name = "acme_loss"\nsmoothing = 1\n'))
    assert _tk(acme_site, "recipes", "check", str(recipe), cwd=tmp_path, mode="").returncode == 0  # an int is a float


def test_a_part_of_a_switched_off_plugin_names_the_plugins_switched_off(acme_site, acme_recipe, tmp_path):
    env_off = subprocess_env(PYTHONPATH=str(acme_site), TK_DISABLE_PLUGINS="acme_parts")
    done = subprocess.run([sys.executable, "-m", "toolkit.cli", "run", str(acme_recipe), "--dry-run"], cwd=tmp_path,
                          env=env_off, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    line = one_error_line(done.stderr)
    assert "unknown loss 'acme_loss'" in line and ("Switched off here (TK_DISABLE_PLUGINS or [plugins] disable): "
                                                   "plugin 'acme_parts', which might provide it.") in line, line


def test_switching_off_by_package_name_works_and_a_misspelt_name_is_said(acme_site, tmp_path):
    """TK_DISABLE_PLUGINS takes the package's name too (tk's messages show it beside the plugin's);
    a name that is no plugin's switches nothing off — said, with the close name, not silently."""
    by_dist = subprocess.run([sys.executable, "-m", "toolkit.cli", "plugins"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=300, env=subprocess_env(PYTHONPATH=str(acme_site),
                                                                        TK_DISABLE_PLUGINS="tk-acme-parts"))
    assert by_dist.returncode == 0 and "acme_parts (disabled)" in by_dist.stdout and "Note:" not in by_dist.stderr
    typo = subprocess.run([sys.executable, "-m", "toolkit.cli", "plugins"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env=subprocess_env(PYTHONPATH=str(acme_site),
                                                                     TK_DISABLE_PLUGINS="acme_part"))
    assert typo.returncode == 0 and "acme_parts (disabled)" not in typo.stdout
    note = " ".join(typo.stderr.split())
    assert ("Note: TK_DISABLE_PLUGINS or [plugins] disable names 'acme_part', which no plugin here is called: nothing "
            "was switched off for it. Did you mean 'acme_parts'?") in note, typo.stderr


def test_a_real_ctrl_c_in_a_command_is_one_line_and_status_130(acme_site, tmp_path):
    """SIGINT (what Ctrl-C sends) to a running command, once it says it is working: one line, status 130."""
    import signal

    from toolkit.testing.resume import _as_from_a_terminal  # SIGINT's default, as typed at a terminal

    env = subprocess_env(PYTHONPATH=str(acme_site), ACME_BREAK="")
    proc = subprocess.Popen([sys.executable, "-m", "toolkit.cli", "acme-wait"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_as_from_a_terminal)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.strip() == "Interrupted (Ctrl-C)." and "Traceback" not in err, err
