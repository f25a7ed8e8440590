"""Keyword parameters written once.

A set of keywords several functions take (the options of validation or
cleaning, the settings of an InfluxDB connection, the data-set stages' run
settings) is defined by a dataclass: names, types, defaults and checks. Each
function taking them declares ``**keywords: Unpack[SomeKeywords]``, a
``TypedDict`` that type checkers read, and is decorated with
:func:`spelled_out`, which shows the keywords to ``help()``, notebooks'
signature help and :func:`inspect.signature` as the keyword-only parameters
they are, with the dataclass's defaults, and refuses any other keyword by the
function's name. The ``TypedDict`` must name exactly the dataclass's fields,
spelled as it types them: a difference fails at import.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
from collections.abc import Callable, Mapping
from typing import Any, ForwardRef, TypeVar

if sys.version_info >= (3, 11):
    from typing import Unpack
else:  # a dependency on Python 3.10 (pyproject.toml)
    from typing_extensions import Unpack

__all__ = ["Unpack", "made_of", "spelled_out"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def _spelling(annotation: object) -> str:
    """An annotation as its source writes it (annotations are kept as text)."""
    if isinstance(annotation, ForwardRef):
        return annotation.__forward_arg__
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


def _keyword_fields(
    sources: tuple[type, ...], explicit: Mapping[str, object]
) -> list[dataclasses.Field[Any]]:
    """The init fields of ``sources``, in order, less those the function names itself."""
    return [f for s in sources for f in dataclasses.fields(s) if f.init and f.name not in explicit]


def _check_keywords(keywords: type, fields: list[dataclasses.Field[Any]], where: str) -> None:
    typed = {name: _spelling(a) for name, a in keywords.__annotations__.items()}
    declared = {f.name: _spelling(f.type) for f in fields}
    if typed != declared:
        differ = sorted(k for k in typed.keys() | declared.keys() if typed.get(k) != declared.get(k))
        raise TypeError(f"{where}: {keywords.__name__} does not spell its fields as declared: {differ}")


def spelled_out(keywords: type, *sources: type) -> Callable[[F], F]:
    """Spells out a function's ``**`` parameter (typed ``Unpack[keywords]``) as
    the keyword-only fields of the dataclasses ``sources``.

    Raises:
        TypeError: at decoration, when ``keywords`` does not name and type
            exactly the fields the function does not name itself; at a call,
            for a keyword that is neither a parameter nor a field.
    """

    def spell(function: F) -> F:
        signature = inspect.signature(function)
        fields = _keyword_fields(sources, signature.parameters)
        _check_keywords(keywords, fields, function.__qualname__)
        spelled = [
            inspect.Parameter(
                f.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default,
                annotation=f.type,
            )
            for f in fields
        ]
        parameters = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        known = {p.name for p in parameters if p.kind is not p.POSITIONAL_ONLY} | {f.name for f in fields}

        @functools.wraps(function)
        def checked(*args: Any, **kwargs: Any) -> Any:
            unknown = kwargs.keys() - known
            if unknown:
                raise TypeError(
                    f"{function.__qualname__}() got an unexpected keyword argument {min(unknown)!r}"
                )
            return function(*args, **kwargs)

        checked.__signature__ = signature.replace(parameters=[*parameters, *spelled])  # type: ignore[attr-defined]
        return checked  # type: ignore[return-value]

    return spell


def made_of(cls: Callable[..., T], keywords: Mapping[str, Any]) -> T:
    """``cls`` (a dataclass) made of those of ``keywords`` that are its fields."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in keywords.items() if k in names})
