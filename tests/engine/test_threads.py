"""CPU threads: the count chosen and said in the run header, and the governor that gives cores back."""

from __future__ import annotations

from toolkit.core.threads import ThreadGovernor, available_cores, choose_threads
from toolkit.testing import make_recipe, run_cli


def test_the_choice_and_its_reason(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cores, how = available_cores()
    assert cores >= 1 and how
    assert choose_threads(3)[:1] == (3,) and choose_threads(3)[2] is False
    assert "train.threads = 3" in choose_threads(3)[1]
    auto = choose_threads(0)  # the machine's count, fixed for the run (#28): never adapted to the load
    assert auto[0] == cores and "available" in auto[1] and "fixed" in auto[1] and auto[2] is False
    adaptive = choose_threads("adaptive")  # the governor only when asked for, and it says results do not repeat
    assert adaptive[0] == cores and adaptive[2] == (cores > 1) and "do not repeat" in adaptive[1]
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert choose_threads(0) == (1, "OMP_NUM_THREADS = 1", False)
    for bad in ("abc", "0"):  # not a count: the machine's, and the reason says it was ignored
        monkeypatch.setenv("OMP_NUM_THREADS", bad)
        count, why, _ = choose_threads(0)
        assert count == cores and why.startswith(f"OMP_NUM_THREADS = {bad!r} is not a thread count, ignored; "), why


def test_the_governor_gives_busy_cores_back_and_takes_them_again(monkeypatch):
    """Fed the samples /proc would give: others using one core → 1 thread; others quiet → 2."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)  # as on an idle 2-core machine, whatever OMP_NUM_THREADS the suite runs with
    try:
        governor = ThreadGovernor(2, every=0.0)
        # (wall s, busy s of our CPUs, own CPU s): 1 s apart
        samples = iter([(1.0, 1.9, 0.9), (2.0, 3.85, 1.85), (3.0, 4.85, 2.85), (4.0, 6.8, 4.8)])
        monkeypatch.setattr(governor, "_sample", lambda: next(samples))
        governor._last = (0.0, 0.0, 0.0)
        assert governor.tick() == 1  # 1.9 busy, 0.9 ours: another process took a core
        assert torch.get_num_threads() == 1
        assert governor.tick() is None  # still busy: no change
        assert governor.tick() == 2  # 1.0 busy, 1.0 ours: the others went quiet
        assert governor.tick() is None
        assert [n for _, n in governor.changes] == [1, 2]
    finally:
        torch.set_num_threads(before)


def test_dry_run_and_run_header_say_how_many_threads_and_why(tmp_path, monkeypatch):
    from toolkit.testing import make_image_folder

    monkeypatch.chdir(tmp_path)
    images = make_image_folder(tmp_path / "images", {"a": 6, "b": 6}, size=32)
    recipe = make_recipe(tmp_path / "r.toml", images, epochs=1)
    dry = run_cli("run", recipe, "--dry-run", "--threads", "1")
    assert dry.exit_code == 0, dry.output
    assert "Threads: 1 (train.threads = 1)" in dry.output
    ran = run_cli("run", recipe, "--set", "train.threads=1", "--out", tmp_path / "run")
    assert ran.exit_code == 0, ran.output
    assert "Threads: 1 (train.threads = 1)" in ran.output
    refused = run_cli("recipes", "check", recipe, "--set", "train.threads=-1")
    assert refused.exit_code == 1 and "train.threads" in refused.stderr
    refused = run_cli("recipes", "check", recipe, "--set", 'train.threads="fast"')
    assert refused.exit_code == 1 and "adaptive" in refused.stderr


def test_the_epoch_line_fits_the_terminal():
    """The first-hour report: a 113-character epoch line wrapped in 80- and 100-column terminals."""
    from toolkit.engine.console import RunConsole

    m = dict(train_loss=0.1234, train_accuracy=0.9, val_loss=0.2345, val_accuracy=0.88, val_macro_f1=0.81,
             ema_val_accuracy=0.9, lr=1e-3, epoch_time=4.2, images_per_sec=310)
    console = RunConsole()
    full = console.epoch_line(3, 10, m, True, width=None)
    assert "lr 1.00e-03" in full and "310 img/s" in full and full.endswith("* best")
    for width in (100, 80):
        text = console.epoch_line(3, 10, m, True, width=width)  # wraps between parts, drops nothing
        assert all(len(line) <= width for line in text.splitlines()) and text.startswith("epoch 3/10")
        for part in ("train loss 0.1234", "val loss 0.2345", "lr 1.00e-03", "310 img/s", "* best"):
            assert part in text


def test_the_wait_policy_follows_the_load_at_the_start_and_never_overrides_the_user():
    from toolkit.core.threads import BUSY_CPUS, WAIT_ENV, choose_wait_policy

    assert choose_wait_policy(BUSY_CPUS, {})[0] == {"OMP_WAIT_POLICY": "PASSIVE"}
    assert choose_wait_policy(1.7, {})[0] == {"OMP_WAIT_POLICY": "PASSIVE"}
    idle, why = choose_wait_policy(BUSY_CPUS / 2, {})
    assert idle == {} and "spin" in why  # OpenMP's own default: fastest on an idle machine
    assert choose_wait_policy(None, {})[0] == WAIT_ENV  # no /proc: the short spin, good enough both ways
    for user in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "5"}):
        assert choose_wait_policy(1.7, user) == ({}, f"{next(iter(user.items()))[0]}={next(iter(user.values()))} "
                                                     "from the environment")
