"""Where a backbone's starting weights come from: the Hugging Face Hub (via timm) or a local file.

Hub weights go through timm's normal loading, so the Hugging Face cache (``HF_HOME``,
``HF_HUB_CACHE``) and ``HF_HUB_OFFLINE`` behave as they do for any timm user. Whether the hub
(``HF_ENDPOINT``) can be reached at all is asked once per process, in at most `PROBE_SECONDS`
(name lookup and connection together: a machine without network used to spend 40 s in the
resolver and huggingface_hub's retries). When the weights are neither cached nor downloadable,
`tk run` says so before it reads any data (`check_weights`, the entry's ``preflight``), in one
sentence with the ways on that work without them (from scratch, or ``model.pretrained_path``),
never the download that just failed, and not a 40-line hub traceback.

Local files (``.safetensors``, ``.pth``, ``.pt``, ``.bin``) are read here rather than through
timm's ``pretrained_cfg_overlay``: timm drops to ``strict=False`` whenever the class count
differs from the weights', which would silently load nothing from the weights of another
architecture. Here every tensor of the network body must be found with its shape, so a wrong
file is an error that says how it does not fit; only the classifier is allowed to differ
(the head is new for the user's classes).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

from toolkit import RecipeError, TkError

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
_WRAPPER_KEYS = ("state_dict_ema", "model_ema", "state_dict", "model", "module")


class WeightsUnavailable(TkError):
    """Pretrained weights were asked for but cannot be had (offline, no cache, no network)."""


def hub_cache_dir() -> str:
    """The Hugging Face hub cache folder the weights would be read from, for messages."""
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except Exception:  # an old or missing huggingface_hub: fall back to its documented default
        return os.path.join(os.environ.get("HF_HOME", "~/.cache/huggingface"), "hub")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _is_fetch_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or its cause) means "the weights file could not be fetched"."""
    seen = 0
    while exc is not None and seen < 5:
        module = type(exc).__module__ or ""
        if isinstance(exc, (OSError, ConnectionError, TimeoutError)) or module.startswith(
            ("huggingface_hub", "requests", "urllib3", "httpx", "urllib")
        ):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _hub_file(arch: str) -> tuple[str, str] | None:
    """``(repo id, file name)`` of an architecture's hub weights, or None when it has none there."""
    import timm

    cfg = timm.models.get_pretrained_cfg(arch)
    repo = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if not repo:
        return None
    return repo.split("@")[0], getattr(cfg, "hf_hub_filename", None) or "model.safetensors"


def is_cached(arch: str) -> bool:
    """Whether the hub weights of ``arch`` are already in the Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    found = _hub_file(arch)
    if found is None:
        return False
    repo, _ = found
    return any(isinstance(try_to_load_from_cache(repo, name), str)
               for name in ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"))


PROBE_SECONDS = 1.5
"""How long the hub probe waits for a name lookup and a TCP connection together."""

_PROBED: dict[tuple[str, int], bool] = {}
"""Probe results of this process, by (host, port): asked once."""


def hub_endpoint() -> str:
    """The hub's address: ``HF_ENDPOINT`` (as huggingface_hub reads it), else huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def _probe_target(endpoint: str) -> tuple[str, int]:
    """``(host, port)`` a connection to ``endpoint`` goes to first: the proxy for its scheme when
    one is set (``HTTPS_PROXY`` …) and the host is not in ``NO_PROXY``, else the endpoint itself."""
    import urllib.request
    from urllib.parse import urlparse

    url = urlparse(endpoint)
    scheme = url.scheme or "https"
    host = url.hostname or "huggingface.co"
    proxy = urllib.request.getproxies().get(scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        via = urlparse(proxy if "://" in proxy else f"http://{proxy}")
        if via.hostname:
            return via.hostname, via.port or (443 if via.scheme == "https" else 80)
    return host, url.port or (80 if scheme == "http" else 443)


def hub_reachable(timeout: float = PROBE_SECONDS) -> bool:
    """Whether a TCP connection to the hub (``HF_ENDPOINT``, through the proxy when one is set) opens
    within ``timeout`` seconds, name lookup included; asked once per process.

    The lookup and connection run in a daemon thread that is waited for at most ``timeout``:
    ``socket.create_connection``'s own timeout does not bound the resolver, which on a machine
    without network can take tens of seconds to give up."""
    import socket
    import threading

    target = _probe_target(hub_endpoint())
    if target in _PROBED:
        return _PROBED[target]
    answer: list[bool] = []

    def attempt() -> None:
        try:
            socket.create_connection(target, timeout=timeout).close()
            answer.append(True)
        except (OSError, ValueError):
            answer.append(False)

    thread = threading.Thread(target=attempt, name="tk-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    _PROBED[target] = bool(answer and answer[0])
    return _PROBED[target]


def check_weights(name: str, pretrained: bool = False, pretrained_path: str = "", **_: object) -> None:
    """The timm entry's ``preflight``: before a run reads data, the hub weights it asks for must be
    cached or the hub reachable, else the one line of `_raise_unavailable` (within a second or two)."""
    if pretrained and not pretrained_path:
        require_hub_weights(name)


def require_hub_weights(arch: str) -> None:
    """Return when ``arch``'s hub weights are cached, or downloadable from here; raise otherwise."""
    if _hub_file(arch) is None or is_cached(arch):
        return
    if _offline() or not hub_reachable():
        _raise_unavailable(arch)


def create_with_hub_weights(arch: str, **kwargs: Any):
    """``timm.create_model(arch, pretrained=True, **kwargs)`` with a clear error when offline.

    Cached weights load without touching the network (``HF_HUB_OFFLINE`` for the call); missing
    ones are fetched only when a quick probe reaches the Hub, else the run stops in one line at
    once (the newcomer's dry run used to print twelve "Retrying in Ns" lines over 73 s first).
    """
    import timm

    cached = is_cached(arch)
    if not cached:
        require_hub_weights(arch)
    saved = os.environ.get("HF_HUB_OFFLINE")
    try:
        if cached:
            os.environ["HF_HUB_OFFLINE"] = "1"
        return timm.create_model(arch, pretrained=True, **kwargs)
    except Exception as exc:
        if not _is_fetch_error(exc):
            raise
        _raise_unavailable(arch)
    finally:
        if cached:
            if saved is None:
                os.environ.pop("HF_HUB_OFFLINE", None)
            else:
                os.environ["HF_HUB_OFFLINE"] = saved


WITHOUT_WEIGHTS = ("train from scratch with --set model.pretrained=false, or with recipes/slides_scratch.toml, "
                   "the settings that trained best from scratch on real screenshots (resnet10t at 144x256, "
                   "30 epochs; README: 'From scratch on real screens'), or point model.pretrained_path at a local "
                   ".safetensors/.pth file of this architecture")
"""What to do without pretrained weights: said wherever they cannot be had."""


def _raise_unavailable(arch: str, what: str = "model.pretrained") -> None:
    """One line: why the weights of ``arch`` cannot be had here, and the ways on without them (never
    a download: that is what just failed, or what ``HF_HUB_OFFLINE`` forbids)."""
    import timm

    cfg = timm.models.get_pretrained_cfg(arch)
    where = getattr(cfg, "hf_hub_id", None) or getattr(cfg, "url", None) or arch
    if _offline():
        why = (f"HF_HUB_OFFLINE is set and they are not in the Hugging Face cache ({hub_cache_dir()}); unset it on a "
               f"machine that reaches the hub to fetch them, or")
    else:
        why = (f"they are not in the Hugging Face cache ({hub_cache_dir()}) and the hub ({hub_endpoint()}) cannot be "
               f"reached from here (no connection within {PROBE_SECONDS:g} s); without them,")
    raise WeightsUnavailable(f"{what}: cannot load the pretrained weights of '{arch}' ({where}): {why} "
                             f"{WITHOUT_WEIGHTS}.") from None


def cached_models(pattern: str = "*") -> list[str]:
    """timm names whose pretrained weights are in the Hugging Face cache (``tk models --cached``)."""
    import fnmatch

    from huggingface_hub import scan_cache_dir

    try:
        info = scan_cache_dir()
    except Exception:  # no cache folder yet
        return []
    names = []
    for repo in info.repos:
        if repo.repo_type == "model" and repo.repo_id.startswith("timm/"):
            name = repo.repo_id.split("/", 1)[1]
            if fnmatch.fnmatchcase(name, pattern):
                names.append(name)
    return sorted(names)


def download(arch: str) -> str:
    """Fetch the pretrained weights of ``arch`` into the Hugging Face cache; returns where."""
    import timm

    if not timm.is_model(arch.split(".")[0]):
        raise RecipeError(f"tk models --download: timm has no architecture '{arch}'; list them with `tk models`.")
    if _hub_file(arch) is None:
        raise RecipeError(f"tk models --download: '{arch}' has no weights on the Hugging Face Hub.")
    if is_cached(arch):
        return f"{arch}: already cached in {hub_cache_dir()}"
    if _offline() or not hub_reachable():
        _raise_unavailable(arch, "tk models --download")
    timm.create_model(arch, pretrained=True)
    return f"{arch}: cached in {hub_cache_dir()}"


def read_state_dict(path: Path) -> dict[str, Any]:
    """Tensors by name from a weights file; unwraps training checkpoints (timm, Lightning, tk).

    A tk checkpoint gives its model's backbone body, so a run's ``best.pt`` can start another
    run of the same architecture.
    """
    import torch

    if path.suffix.lower() not in WEIGHT_SUFFIXES:
        raise RecipeError(f"model.pretrained_path: '{path}' must be a {', '.join(WEIGHT_SUFFIXES)} file.")
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # torch's own text here advises weights_only=False: the one thing not to do
        raise RecipeError(f"model.pretrained_path: '{path}' refused: it holds Python objects other than tensors "
                          f"(tk loads weights with weights_only=True and never runs code from them).") from None
    except Exception as exc:
        detail = str(exc).splitlines()[0][:160] if str(exc) else ""
        raise RecipeError(
            f"model.pretrained_path: '{path}' is not a readable weights file ({type(exc).__name__}: {detail})."
        ) from None
    if isinstance(state, dict) and state.get("format") == "tk-checkpoint":
        state = {k[len("backbone."):]: v for k, v in state["model"].items() if k.startswith("backbone.")}
        state = {k[len("body."):]: v for k, v in state.items() if k.startswith("body.")} or state
    for key in _WRAPPER_KEYS:  # training checkpoints keep the weights one level down
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise RecipeError(f"model.pretrained_path: '{path}' holds no state dict (a mapping of names to tensors).")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}


def _classifier_prefixes(body: Any) -> tuple[str, ...]:
    names = (getattr(body, "pretrained_cfg", None) or {}).get("classifier") or ()
    if isinstance(names, str):
        names = (names,)
    return tuple(f"{n}." for n in names)


def _shape(t: Any) -> str:
    return "×".join(str(s) for s in t.shape) or "scalar"


def load_local_weights(body: Any, path_text: str, arch: str) -> None:
    """Load ``path_text`` into ``body`` (a timm model without classifier), strictly.

    Every parameter and buffer of ``body`` must be in the file with the same shape (BatchNorm's
    ``num_batches_tracked`` counters may be absent); the file may hold extra classifier tensors
    (they belong to the head that tk replaces) and nothing else.
    """
    import torch

    path = Path(path_text).expanduser()
    if not path.is_file():
        raise RecipeError(f"model.pretrained_path: no such weights file '{path}'.")
    state = read_state_dict(path)
    own = body.state_dict()
    skip = _classifier_prefixes(body)
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own and not k.startswith(skip)]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} of the model's {len(own)} tensors are not in the file (e.g. '{missing[0]}')")
        if unexpected:
            parts.append(f"{len(unexpected)} tensors in the file are not in the model (e.g. '{unexpected[0]}')")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} have another shape (e.g. '{k}': {_shape(state[k])} in the file, "
                         f"{_shape(own[k])} in the model)")
        raise RecipeError(
            f"model.pretrained_path: the weights in '{path}' do not fit '{arch}': {'; '.join(parts)}. "
            f"Use weights saved from a '{arch}' model, or set model.backbone to the architecture they were saved from."
        )
    with torch.no_grad():
        body.load_state_dict({k: state[k] for k in own if k in state}, strict=False)
