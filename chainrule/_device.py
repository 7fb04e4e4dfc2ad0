"""Devices: chainrule runs on the CPU; CUDA/MPS requests fail with a clear message."""

from __future__ import annotations

from typing import Any

__all__ = ["device", "cuda", "backends", "accelerator"]


class device:  # noqa: N801 - PyTorch's name
    """A device (only ``cpu`` exists): ``chainrule.device("cpu")``."""

    __slots__ = ("type", "index")

    def __init__(self, type: Any = "cpu", index: int | None = None) -> None:
        if isinstance(type, device):
            type, index = type.type, type.index
        name = str(type)
        if ":" in name:
            name, _, idx = name.partition(":")
            index = int(idx)
        if name != "cpu":
            raise RuntimeError(
                f"device {str(type)!r} is not available: chainrule runs on the CPU only "
                "(use device('cpu'), or leave the device out)"
            )
        self.type = "cpu"
        self.index = index

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except RuntimeError:
                return False
        return isinstance(other, device) and other.type == self.type

    def __hash__(self) -> int:
        return hash(self.type)

    def __repr__(self) -> str:
        return "device(type='cpu')"

    def __str__(self) -> str:
        return "cpu"


CPU = device("cpu")


class _Unavailable:
    """``cuda`` / ``backends.mps`` / ``accelerator``: queries answer that nothing is there."""

    def __init__(self, name: str) -> None:
        self._name = name

    def is_available(self) -> bool:
        """Always False: chainrule has no GPU backend."""
        return False

    def device_count(self) -> int:
        """Always 0."""
        return 0

    def is_built(self) -> bool:
        """Always False."""
        return False

    def manual_seed(self, seed: int) -> None:
        """Accepted and ignored (there is no GPU generator)."""

    manual_seed_all = manual_seed

    def synchronize(self, *args: Any) -> None:
        """A no-op: there is nothing to wait for on the CPU."""

    def current_accelerator(self) -> None:
        """None: no accelerator."""
        return None

    def empty_cache(self) -> None:
        """A no-op: there is no device memory cache."""

    def ipc_collect(self) -> None:
        """A no-op."""

    def reset_peak_memory_stats(self, device: Any = None) -> None:
        """A no-op."""

    def memory_allocated(self, device: Any = None) -> int:
        """0: no device memory is used."""
        return 0

    max_memory_allocated = memory_reserved = max_memory_reserved = memory_allocated

    def is_initialized(self) -> bool:
        """False."""
        return False

    def _absent(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            f"{self._name} is not available: chainrule runs on the CPU only (check "
            f"{self._name}.is_available() before asking for a device)"
        )

    current_device = get_device_name = get_device_properties = set_device = _absent

    def __repr__(self) -> str:
        return f"<chainrule.{self._name}: not available>"

    def __getattr__(self, name: str) -> Any:
        # torch.cuda.amp.GradScaler / autocast in older scripts: the CPU versions, disabled
        if name == "amp" and self._name == "cuda":
            from . import amp

            return amp._CudaAmp()
        raise AttributeError(f"chainrule.{self._name} has no attribute {name!r}")


cuda = _Unavailable("cuda")
accelerator = _Unavailable("accelerator")


class _Flags:
    """A settable bag of backend flags (recorded only)."""

    def __init__(self, **flags: Any) -> None:
        self.__dict__.update(flags)


class _Backends:
    def __init__(self) -> None:
        self.mps = _Unavailable("backends.mps")
        self.cuda = _Unavailable("backends.cuda")
        self.cudnn = _Unavailable("backends.cudnn")
        self.cudnn.deterministic = False  # type: ignore[attr-defined]
        self.cudnn.benchmark = False  # type: ignore[attr-defined]
        self.cudnn.enabled = True  # type: ignore[attr-defined]
        self.cudnn.allow_tf32 = True  # type: ignore[attr-defined]
        # torch.backends.cuda.matmul.allow_tf32 = ... is set by many training scripts
        self.cuda.matmul = _Flags(allow_tf32=False, allow_fp16_reduced_precision_reduction=True)  # type: ignore[attr-defined]


backends = _Backends()
