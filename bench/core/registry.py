"""Name -> class registries for systems and datasets.

Built-in and third-party entries are found the same way: through the
``sedbench.systems`` / ``sedbench.datasets`` entry-point groups, loaded lazily
on first lookup, or by the ``register_*`` decorators (for code that is imported
anyway, e.g. a notebook or a test). Two different objects under one name is an
error rather than a silent override.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Generic, TypeVar

from .errors import SedbenchError, UnknownNameError

T = TypeVar("T")


class RegistryCollisionError(SedbenchError):
    """Two different objects were registered under the same name."""


@dataclass
class Registry(Generic[T]):
    kind: str  # "system" or "dataset", used in messages
    group: str  # entry-point group
    _entries: dict[str, T] = field(default_factory=dict)
    _lazy: dict[str, metadata.EntryPoint] = field(default_factory=dict)
    _scanned: bool = False

    def register(self, name: str | None = None) -> Callable[[T], T]:
        """Class decorator: ``@register_system("crnn")``."""

        def decorate(obj: T) -> T:
            key = name or getattr(obj, "name", None)
            if not key:
                raise ValueError(f"cannot register {obj!r}: no name given and it has no 'name' attribute")
            self.add(key, obj)
            return obj

        return decorate

    def add(self, name: str, obj: T) -> None:
        existing = self._entries.get(name)
        if existing is not None and existing is not obj:
            raise RegistryCollisionError(
                f"{self.kind} name {name!r} is already registered to {_path_of(existing)}; "
                f"refusing to also register {_path_of(obj)}"
            )
        lazy = self._lazy.get(name)
        if lazy is not None and existing is None and lazy.value != _path_of(obj):
            raise RegistryCollisionError(
                f"{self.kind} name {name!r} is already provided by entry point {lazy.value!r}; "
                f"refusing to also register {_path_of(obj)}"
            )
        self._entries[name] = obj

    def _scan(self) -> None:
        if self._scanned:
            return
        self._scanned = True
        seen: dict[str, metadata.EntryPoint] = {}
        for ep in metadata.entry_points(group=self.group):
            other = seen.get(ep.name)
            if other is not None and other.value != ep.value:
                raise RegistryCollisionError(
                    f"{self.kind} name {ep.name!r} is provided by two installed packages "
                    f"({other.value!r} and {ep.value!r}); uninstall one of them"
                )
            seen[ep.name] = ep
        for name, ep in seen.items():
            registered = self._entries.get(name)
            if registered is not None and _path_of(registered) != ep.value:
                raise RegistryCollisionError(
                    f"{self.kind} name {name!r} is registered to {_path_of(registered)} "
                    f"and also provided by entry point {ep.value!r}"
                )
            self._lazy[name] = ep

    def names(self) -> list[str]:
        self._scan()
        return sorted(set(self._entries) | set(self._lazy))

    def get(self, name: str) -> T:
        self._scan()
        if name in self._entries:
            return self._entries[name]
        ep = self._lazy.get(name)
        if ep is None:
            known = ", ".join(self.names()) or "none"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; registered {self.kind}s: {known}")
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must not look like a missing one
            raise SedbenchError(
                f"{self.kind} {name!r} could not be loaded from entry point {ep.value!r}: {exc}"
            ) from exc
        self._entries[name] = obj
        return obj

    def items(self) -> list[tuple[str, T]]:
        return [(name, self.get(name)) for name in self.names()]


def _path_of(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', repr(obj))}"


systems: Registry[Any] = Registry(kind="system", group="sedbench.systems")
datasets: Registry[Any] = Registry(kind="dataset", group="sedbench.datasets")


def register_system(name: str | None = None):
    return systems.register(name)


def register_dataset(name: str | None = None):
    return datasets.register(name)
