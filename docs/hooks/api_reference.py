"""Griffe extension for the API reference: what the docstrings say, rendered for the site.

The package's docstrings are written for ``help()`` and IDEs; this extension changes nothing in
the package, only what mkdocstrings renders:

* Sphinx roles (``:class:`~a.b.C```, ``:meth:``, ``:attr:``, ...) become cross-references to
  the documented object, or plain code where it is not on the site.
* Every class and function gets a parameter table with its whole public signature, as
  ``inspect.signature`` gives it (a callback's keyword arguments typed ``**kwargs: Unpack[...]``
  are listed one by one, with their defaults). A parameter the docstring does not describe takes
  the description of the class that defines it (``SchedulerCallback`` for the common keyword
  arguments, ``ParamGroup`` and ``Attribute`` for the target's).
* A class whose base is private shows its nearest public ancestors as bases.
"""

from __future__ import annotations

import importlib
import inspect
import re
import typing
from typing import Any

import griffe

PACKAGE = "lightning_schedulers"

#: Where the keyword arguments shared by many classes are described (griffe paths).
COMMON_SOURCES = (
    f"{PACKAGE}.callbacks.base.SchedulerCallback",
    f"{PACKAGE}.targets.ParamGroup",
    f"{PACKAGE}.targets.Attribute",
)

ROLE = re.compile(r":(?:py:)?(?:class|meth|attr|func|mod|data|obj|exc|const|type):`(~?)([^`]+)`")

_KINDS = {
    inspect.Parameter.POSITIONAL_ONLY: griffe.ParameterKind.positional_only,
    inspect.Parameter.POSITIONAL_OR_KEYWORD: griffe.ParameterKind.positional_or_keyword,
    inspect.Parameter.VAR_POSITIONAL: griffe.ParameterKind.var_positional,
    inspect.Parameter.KEYWORD_ONLY: griffe.ParameterKind.keyword_only,
    inspect.Parameter.VAR_KEYWORD: griffe.ParameterKind.var_keyword,
}


class ApiReference(griffe.Extension):
    """Rewrites roles, completes parameter tables and hides private bases once the package is loaded."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name != PACKAGE:
            return
        objects = list(_walk(pkg))
        for obj in objects:  # first the text, so that everything parsed below sees the rewritten roles
            if obj.docstring is not None:
                obj.docstring.value = ROLE.sub(lambda m, o=obj: _reference(o, m, loader), obj.docstring.value)
        common = _common_descriptions(loader)
        for obj in objects:
            if isinstance(obj, griffe.Class):
                _public_bases(obj, loader)
            if isinstance(obj, (griffe.Class, griffe.Function)) and obj.docstring is not None:
                _complete_parameters(obj, common)


def _walk(obj: griffe.Object) -> Any:
    """The package's own objects (not aliases), depth first."""
    yield obj
    for member in list(obj.members.values()):
        if not member.is_alias and isinstance(member, griffe.Object):
            yield from _walk(member)


def _lookup(loader: griffe.GriffeLoader, path: str) -> Any:
    try:
        found = loader.modules_collection.get_member(path)
    except (KeyError, ValueError, AttributeError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None
    try:
        return found.final_target if found.is_alias else found
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def _reference(obj: griffe.Object, match: re.Match[str], loader: griffe.GriffeLoader) -> str:
    """A Sphinx role as an optional cross-reference: a link where the target is on the site, else code."""
    short, target = match.group(1) == "~", match.group(2).strip()
    target = target.removeprefix(".")
    title = target.rsplit(".", 1)[-1] if short else target
    return f'<autoref identifier="{_resolve(obj, target, loader)}" optional><code>{title}</code></autoref>'


def _resolve(obj: griffe.Object, target: str, loader: griffe.GriffeLoader) -> str:
    """The documented path of ``target`` as written in ``obj``'s docstring (or ``target`` itself)."""
    first, _, rest = target.partition(".")
    candidates = [target]
    scope: Any = obj
    while scope is not None:  # a member of the object, of its class, of its module, of the package
        candidates.append(f"{scope.path}.{target}")
        scope = scope.parent
    try:
        resolved = obj.resolve(first)
        candidates.insert(0, f"{resolved}.{rest}" if rest else resolved)
    except (griffe.NameResolutionError, AttributeError, KeyError):
        pass
    for candidate in candidates:
        found = _lookup(loader, candidate)
        if found is not None:
            return str(found.path)
    return target


def _common_descriptions(loader: griffe.GriffeLoader) -> dict[str, str]:
    descriptions: dict[str, str] = {}
    for path in COMMON_SOURCES:
        source = _lookup(loader, path)
        if source is None or source.docstring is None:
            continue
        for name, parameter in _documented(_parsed(source.docstring)).items():
            descriptions.setdefault(name, parameter.description)
    return descriptions


def _parsed(docstring: griffe.Docstring) -> list[griffe.DocstringSection]:
    """The docstring's sections, parsed once and kept where mkdocstrings reads them.

    Parsed before inherited members are known, so without griffe's warnings about the signature:
    they would be about the static one (a ``**kwargs``, an ``__init__`` from a private base).
    """
    if "parsed" not in docstring.__dict__:  # functools.cached_property
        options = {**(docstring.parser_options or {}), "warnings": False}
        docstring.__dict__["parsed"] = docstring.parse(**options)
    return docstring.__dict__["parsed"]  # type: ignore[no-any-return]


def _documented(sections: list[griffe.DocstringSection]) -> dict[str, griffe.DocstringParameter]:
    return {
        parameter.name: parameter
        for section in sections
        if isinstance(section, griffe.DocstringSectionParameters)
        for parameter in section.value
    }


def _runtime(obj: griffe.Object) -> Any:
    """The live object, or ``None`` where it cannot be imported (a module being edited, say)."""
    module = obj.module
    try:
        value: Any = importlib.import_module(module.path)
        for part in obj.path[len(module.path) + 1 :].split("."):
            value = inspect.getattr_static(value, part) if isinstance(value, type) else getattr(value, part)
    except Exception:  # the static signature is used instead
        return None
    return value.__func__ if isinstance(value, (staticmethod, classmethod)) else value


def _signature(obj: griffe.Object, value: Any) -> inspect.Signature | None:
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):
        return None
    parameters = list(signature.parameters.values())
    if isinstance(value, type) and all(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters):
        try:  # a class whose __new__ takes anything: its __init__ says what it takes
            signature = inspect.signature(value.__init__)
            parameters = list(signature.parameters.values())[1:]
        except (TypeError, ValueError):
            return None
    elif isinstance(obj, griffe.Function) and obj.parent is not None and obj.parent.is_class and parameters:
        parameters = parameters[1:] if parameters[0].name in ("self", "cls") else parameters
    return signature.replace(parameters=parameters)


def _typed_dict(obj: griffe.Object, annotation: Any) -> Any:
    """The TypedDict of ``**kwargs: Unpack[...]``, or ``None``."""
    text = annotation if isinstance(annotation, str) else str(annotation)
    found = re.fullmatch(r"\s*(?:typing\.|typing_extensions\.)?Unpack\[\s*([\w.]+)\s*\]\s*", text)
    if found is None:
        return None
    try:
        namespace = vars(importlib.import_module(obj.module.path))
        value = eval(found.group(1), namespace)  # a name from the package's own source
    except Exception:  # the row stays as it is
        return None
    return value if typing.is_typeddict(value) else None


def _keys(typed_dict: Any) -> list[tuple[str, str | None]]:
    """A TypedDict's keys and their annotations as written, bases first."""
    keys: dict[str, str | None] = {}
    for klass in reversed(typed_dict.__mro__):
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            keys[name] = _annotation(annotation)
    return list(keys.items())


def _public_names(annotation: str | None, obj: griffe.Object) -> str | None:
    """``annotation`` with each private class (``_TorchLRScheduler``) named by its first public base."""
    if annotation is None or "_" not in annotation:
        return annotation
    namespace = vars(importlib.import_module(obj.module.path))

    def public(match: re.Match[str]) -> str:
        value = namespace.get(match.group(0))
        if not isinstance(value, type):
            return match.group(0)
        return next((k.__name__ for k in value.__mro__ if not k.__name__.startswith("_")), match.group(0))

    return re.sub(r"(?<![\w.])_[A-Z]\w*", public, annotation)


def _link(path: str) -> str:
    return f'<autoref identifier="{path}" optional><code>{path.rsplit(".", 1)[-1]}</code></autoref>'


def _annotation(value: Any) -> str | None:
    if value is inspect.Parameter.empty:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, typing.ForwardRef):
        return value.__forward_arg__
    if isinstance(value, type):
        return value.__name__
    return str(value).replace("typing.", "")


def _complete_parameters(obj: griffe.Class | griffe.Function, common: dict[str, str]) -> None:
    """Give ``obj`` a parameter table for its whole public signature, and that signature."""
    value = _runtime(obj)
    if typing.is_typeddict(value):
        assert obj.docstring is not None
        keys = [
            griffe.DocstringAttribute(key, description=common.get(key, ""), annotation=annotation)
            for key, annotation in _keys(value)
        ]
        _parsed(obj.docstring).insert(1, griffe.DocstringSectionAttributes(keys, title="Keys (all optional):"))
        return
    signature = None if value is None else _signature(obj, value)
    if signature is None:
        return
    assert obj.docstring is not None
    sections = _parsed(obj.docstring)
    documented = _documented(sections)
    rows: list[griffe.DocstringParameter] = []
    parameters: list[griffe.Parameter] = []
    for parameter in signature.parameters.values():
        name = parameter.name
        shown = {parameter.VAR_POSITIONAL: f"*{name}", parameter.VAR_KEYWORD: f"**{name}"}.get(parameter.kind, name)
        default = None if parameter.default is parameter.empty else repr(parameter.default)
        empty = {parameter.VAR_POSITIONAL: "()", parameter.VAR_KEYWORD: "{}"}.get(parameter.kind)
        annotation = _public_names(_annotation(parameter.annotation), obj)
        described = documented.get(shown) or documented.get(name)
        description = described.description if described is not None else common.get(name, "")
        typed_dict = _typed_dict(obj, parameter.annotation) if parameter.kind is parameter.VAR_KEYWORD else None
        if typed_dict is not None:  # **kwargs: Unpack[X] (a class lists them one by one, a function here)
            keys = ", ".join(f"`{key}`" for key, _ in _keys(typed_dict))
            path = f"{typed_dict.__module__}.{typed_dict.__qualname__}"
            description = (description + " " if description else "") + f"The keys of {_link(path)}: {keys}."
        if name == "interval" and parameter.default is None and isinstance(value, type):
            fallback = getattr(value, "_default_interval", None)
            if fallback is not None:
                description += f" `None`: `{fallback!r}` for this class."
        row = griffe.DocstringParameter(shown, description=description, annotation=annotation, value=default or empty)
        rows.append(row)
        parameters.append(griffe.Parameter(name, annotation=annotation, kind=_KINDS[parameter.kind], default=default))
    if not rows:
        return
    table = griffe.DocstringSectionParameters(rows)
    kept = [s for s in sections if not isinstance(s, griffe.DocstringSectionParameters)]
    at = 1 if kept and isinstance(kept[0], griffe.DocstringSectionText) else 0
    sections[:] = [*kept[:at], table, *kept[at:]]
    # The signature shown in the heading is the one the table lists (and help() shows).
    if isinstance(obj, griffe.Class):
        own = obj.members.get("__init__")
        if not isinstance(own, griffe.Function) or own.is_alias:  # inherited: give the class its own
            own = griffe.Function("__init__", parent=obj)
            obj.set_member("__init__", own)
        own.parameters = griffe.Parameters(griffe.Parameter("self"), *parameters)
    else:
        first = [p for p in obj.parameters if p.name in ("self", "cls")][:1]
        obj.parameters = griffe.Parameters(*first, *parameters)


def _public_bases(cls: griffe.Class, loader: griffe.GriffeLoader) -> None:
    """Replace private bases (``_TorchLRScheduler``) by their nearest public ancestors."""
    if not any(str(getattr(base, "name", base)).startswith("_") for base in cls.bases):
        return
    bases: list[Any] = []
    pending = list(cls.bases)
    while pending:
        base = pending.pop(0)
        name = str(getattr(base, "name", base))
        if not name.startswith("_"):
            bases.append(base)
            continue
        path = getattr(base, "canonical_path", None)
        found = _lookup(loader, path) if path else None
        if isinstance(found, griffe.Class):
            pending[:0] = found.bases
    public: dict[str, Any] = {}
    for base in bases:
        found = _lookup(loader, str(getattr(base, "canonical_path", base)))
        expression = griffe.ExprName(found.name, parent=found.parent) if found is not None else base
        public.setdefault(str(getattr(expression, "canonical_path", expression)), expression)
    cls.bases = list(public.values())
