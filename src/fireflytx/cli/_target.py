"""Finding the transaction a command is about: ``path/to/file.py:Class`` or ``package.module:Class``.

A file is imported the way ``python file.py`` would see it (its folder first on ``sys.path``),
or, inside a package, under its dotted name so relative imports work. A module name is looked up
from the current directory too, as web servers do for ``app:main``. Mistakes in the argument are
usage errors; a module that fails to import, or whose saga fails its checks, is a failure.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Literal

from .._saga._definition import SagaSpec
from .._spec import spec_of
from .._tcc._definition import TccSpec
from ..errors import DefinitionError

__all__ = ["TargetError", "kind_of", "load_target", "load_targets"]

_FORMS = "use path/to/file.py:ClassName or package.module:ClassName"


class TargetError(Exception):
    """A TARGET could not be loaded.

    ``usage`` is True when the argument itself is wrong (exit 2), False when the code it names
    failed (exit 1); ``problems`` lists a ``DefinitionError``'s findings.
    """

    def __init__(
        self, message: str, *, usage: bool, problems: tuple[str, ...] = (), detail: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage
        self.problems = problems
        self.detail = detail

    @property
    def exit_code(self) -> int:
        """2 for a usage error, 1 for a failure."""
        return 2 if self.usage else 1


def kind_of(obj: object) -> Literal["saga", "tcc"] | None:
    """``saga`` or ``tcc`` for a class decorated with ``@saga`` or ``@tcc`` itself, else None."""
    if not isinstance(obj, type):
        return None
    _, spec = spec_of(obj)
    if isinstance(spec, SagaSpec):
        return "saga"
    if isinstance(spec, TccSpec):
        return "tcc"
    return None


@dataclass(frozen=True)
class _Where:
    place: str
    class_path: str | None
    is_file: bool


def _split(target: str) -> _Where:
    head, sep, tail = target.rpartition(":")
    # "C:\\x\\saga.py" has a colon too: only a Python name after the last colon names a class.
    if sep and head and all(part.isidentifier() for part in tail.split(".")):
        place, class_path = head, tail
    elif sep and not head:
        raise TargetError(f"{target!r} names no file or module before ':'; {_FORMS}", usage=True)
    else:
        place, class_path = target, None
    looks_like_file = place.endswith(".py") or os.sep in place or "/" in place or Path(place).exists()
    if not looks_like_file and not all(part.isidentifier() for part in place.split(".")):
        raise TargetError(f"{target!r} is neither a .py file nor a module name; {_FORMS}", usage=True)
    return _Where(place, class_path, looks_like_file)


def _failed_import(what: str, exc: BaseException) -> TargetError:
    if isinstance(exc, DefinitionError):
        return TargetError(
            f"{exc.subject} has {len(exc.problems)} definition "
            f"problem{'' if len(exc.problems) == 1 else 's'}",
            usage=False,
            problems=exc.problems,
        )
    if isinstance(exc, SyntaxError):
        where = f"{exc.filename}:{exc.lineno}" if exc.filename else what
        return TargetError(f"{where}: syntax error: {exc.msg}", usage=False)
    frames = traceback.extract_tb(exc.__traceback__)
    last = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return TargetError(
        f"importing {what} failed: {type(exc).__name__}: {exc}{last}",
        usage=False,
        detail="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    )


def _package_root(path: Path) -> tuple[Path, str] | None:
    """The folder above the outermost package holding ``path`` and its dotted module name."""
    if not (path.parent / "__init__.py").exists():
        return None
    parts = [path.stem] if path.stem != "__init__" else []
    folder = path.parent
    while (folder / "__init__.py").exists():
        parts.insert(0, folder.name)
        folder = folder.parent
    if not all(part.isidentifier() for part in parts):
        return None
    return folder, ".".join(parts)


def _prepend(folder: Path) -> None:
    entry = str(folder)
    if entry not in sys.path:
        sys.path.insert(0, entry)


def _import_file(place: str) -> ModuleType:
    path = Path(place).expanduser()
    if not path.exists():
        raise TargetError(f"no such file: {place}", usage=True)
    if path.is_dir():
        raise TargetError(
            f"{place} is a directory; name a .py file in it, e.g. {place}/saga.py:MySaga", usage=True
        )
    path = path.resolve()
    in_package = _package_root(path)
    if in_package is not None:
        root, dotted = in_package
        _prepend(root)
        try:
            module = importlib.import_module(dotted)
        except (Exception, SystemExit) as exc:
            raise _failed_import(place, exc) from exc
        if module.__file__ and Path(module.__file__).resolve() == path:
            return module
        # Another copy of that package comes first on sys.path: load this file by itself instead.
    _prepend(path.parent)
    name = "_fireflytx_target_" + "".join(c if c.isalnum() else "_" for c in path.stem)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TargetError(f"{place} cannot be imported as Python source", usage=True)
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: dataclasses and pydantic look their module up while it executes.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(name, None)
        raise _failed_import(place, exc) from exc
    return module


def _import_module(place: str) -> ModuleType:
    _prepend(Path.cwd())
    try:
        return importlib.import_module(place)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (place == exc.name or place.startswith(exc.name + ".")):
            raise TargetError(
                f"no module named {place!r}: install it, run from the folder that holds it, "
                "or set PYTHONPATH",
                usage=True,
            ) from exc
        raise _failed_import(place, exc) from exc
    except (Exception, SystemExit) as exc:
        raise _failed_import(place, exc) from exc


def _defined_in(module: ModuleType) -> list[type]:
    return [obj for obj in vars(module).values() if kind_of(obj) and obj.__module__ == module.__name__]


def _describe(classes: list[type]) -> str:
    return ", ".join(f"{c.__qualname__} ({kind_of(c)})" for c in classes) or "no saga or TCC class"


def _resolve(module: ModuleType, where: _Where) -> list[type]:
    if where.class_path is None:
        found = _defined_in(module)
        if not found:
            raise TargetError(
                f"{where.place} defines no saga or TCC class; "
                "decorate one with @saga('name') or @tcc('name')",
                usage=True,
            )
        return found
    obj: object = module
    for part in where.class_path.split("."):
        if not hasattr(obj, part):
            raise TargetError(
                f"{where.place} has no class {where.class_path!r}; "
                f"it defines {_describe(_defined_in(module))}",
                usage=True,
            )
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise TargetError(
            f"{where.place}:{where.class_path} is a {type(obj).__name__}, not a class", usage=True
        )
    if kind_of(obj) is None:
        raise TargetError(
            f"{where.place}:{where.class_path} is not a saga or TCC class: decorate it with @saga('name') "
            "or @tcc('name') (a subclass must be decorated again)",
            usage=True,
        )
    return [obj]


def load_targets(target: str) -> list[type]:
    """Every transaction TARGET names: its class, or all defined in the file or module.

    Raises:
        TargetError: the target cannot be found, fails to import, or names no transaction.
    """
    where = _split(target)
    module = _import_file(where.place) if where.is_file else _import_module(where.place)
    return _resolve(module, where)


def load_target(target: str) -> type:
    """The one transaction TARGET names.

    Raises:
        TargetError: as ``load_targets``, or the file defines several and names none of them.
    """
    found = load_targets(target)
    if len(found) > 1:
        choices = " or ".join(f"{target}:{c.__qualname__}" for c in found)
        raise TargetError(f"{target} defines {len(found)} transactions; pick one: {choices}", usage=True)
    return found[0]
