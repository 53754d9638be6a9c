"""Jinja2 templates for prompts, targets and choices, in a sandbox.

A task file is data, not code: its templates run in Jinja's immutable sandbox (no attribute
that starts with ``_``, no mutating methods, no file system: there is no loader, so
``include``/``import``/``extends`` have nothing to read) with ``StrictUndefined``, so a field
the item lacks is an error rather than an empty string. Templates are compiled once per
source text and checked when the task file is read, so that a syntax error or a reach for
``__class__`` names the task file and line before any item is read.

The sandbox stops code execution, not work: a template can still ask for a very long
string. The operators and calls that multiply size (``*``, ``**``, ``%``, ``format``,
``center`` and friends) are bounded, in the spirit of the width limit on ``{field}`` specs.
"""

from __future__ import annotations

import functools
import re
from collections import ChainMap
from typing import Any

MAX_SIZE = 1_000_000  # characters or elements one operation may produce
MAX_NUMBER = 100_000  # a count, width or repeat given to a call or filter
MAX_FORMAT_WIDTH = 1000  # as for {field:>N} in plain templates
_WIDTH = re.compile(r"[%:][^%:{}\s]*?(\d{4,})")
_SIZED_FILTERS = ("center", "indent", "wordwrap", "batch", "slice", "format", "truncate")
_DROPPED_GLOBALS = ("lipsum", "cycler", "joiner")  # text generators and stateful helpers no prompt needs


def is_jinja(text: str) -> bool:
    """A template is Jinja when it uses an expression or a statement."""
    return "{{" in text or "{%" in text


class TemplateError(ValueError):
    """A template cannot be compiled or is refused; the message is one sentence."""


class RenderError(ValueError):
    """An item cannot be rendered: ``field`` is the undefined name when that is the cause."""

    def __init__(self, message: str, field: str | None = None, jinja: bool = True):
        self.field = field
        self.jinja = jinja
        super().__init__(message)


def _security(message: str):
    from jinja2.sandbox import SecurityError

    return SecurityError(message)


def _check_number(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
        raise _security(f"the number {value} is larger than templates allow ({MAX_NUMBER})")


def _check_format(fmt: str) -> None:
    for m in _WIDTH.finditer(fmt):
        if int(m.group(1)) > MAX_FORMAT_WIDTH:
            raise _security(f"a format width of {m.group(1)} is larger than templates allow ({MAX_FORMAT_WIDTH})")


def _bounded_filter(fn):
    @functools.wraps(fn)  # keeps jinja's pass_context/pass_environment marks
    def wrapper(*args, **kwargs):
        for a in list(args[1:]) + list(kwargs.values()):
            _check_number(a)
        if fn.__name__ == "do_format" and isinstance(args[0], str):
            _check_format(args[0])
        return fn(*args, **kwargs)

    return wrapper


@functools.lru_cache(maxsize=1)
def environment():
    """The one sandboxed environment (built on first use, not at import)."""
    import operator

    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class _Env(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**", "%"})

        def call_binop(self, context, op, left, right):
            if op == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_SIZE:
                        raise _security(f"a repeat of {n} makes a value larger than templates allow ({MAX_SIZE})")
            elif op == "**":
                if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
                    if abs(left).bit_length() * right > MAX_SIZE:
                        raise _security("a power larger than templates allow")
            elif op == "%" and isinstance(left, str):
                _check_format(left)
            return {"*": operator.mul, "**": operator.pow, "%": operator.mod}[op](left, right)

        def wrap_str_format(self, value):
            # Checked when ``'...'.format`` is looked up: the sandbox wraps it there.
            owner = getattr(value, "__self__", None)
            if isinstance(owner, str) and getattr(value, "__name__", "") in ("format", "format_map"):
                _check_format(owner)
            return super().wrap_str_format(value)

        def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - jinja's signature
            for a in list(args) + list(kwargs.values()):
                _check_number(a)
            return super().call(__context, __obj, *args, **kwargs)

    env = _Env(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    for name in _DROPPED_GLOBALS:
        env.globals.pop(name, None)
    for name in _SIZED_FILTERS:
        env.filters[name] = _bounded_filter(env.filters[name])
    return env


def _refuse_reaches(tree) -> None:
    """Refuse what the sandbox would refuse anyway, but now, with the task file's line:
    private attributes and templates that try to load other templates."""
    from jinja2 import nodes

    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        if isinstance(node, (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
            raise TemplateError("include, import and extends are not available: a template stands alone")
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateError(f"'{name}' is not allowed: templates cannot reach private attributes")


def _syntax_message(exc) -> str:
    where = f" (line {exc.lineno} of the template)" if exc.lineno and exc.lineno > 1 else ""
    return f"not a valid Jinja template: {exc.message}{where}"


@functools.lru_cache(maxsize=256)
def compile_template(source: str):
    """The compiled template for ``source`` (cached: each distinct text is compiled once)."""
    from jinja2 import TemplateSyntaxError

    env = environment()
    try:
        _refuse_reaches(env.parse(source))
        return env.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(_syntax_message(exc)) from None


@functools.lru_cache(maxsize=256)
def compile_value(source: str):
    """For a template that is one ``{{ expression }}``, a template that stores the
    expression's Python value (a list of choices, an integer index) as ``result``; None when
    ``source`` is anything more."""
    from jinja2 import nodes

    compile_template(source)  # the same checks and errors as any template
    body = environment().parse(source).body
    if len(body) != 1 or not isinstance(body[0], nodes.Output) or len(body[0].nodes) != 1:
        return None
    expr = body[0].nodes[0]
    if isinstance(expr, nodes.TemplateData):
        return None
    assign = nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)
    return environment().from_string(nodes.Template([assign], lineno=1))


def _context(template, record: dict):
    # The item's fields over the globals, shared rather than copied: rendering is per item,
    # and copying every record into a fresh dict was most of its cost.
    from collections import ChainMap

    return template.new_context(ChainMap(record, template.globals), shared=True)


def check(source: str) -> None:
    """Compile ``source`` now; TemplateError (one sentence) when it cannot be."""
    compile_template(source)


def _rendering(fn, record: dict):
    try:
        return fn(record)
    except _errors() as exc:
        _explain(exc)
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        raise RenderError(f"{type(exc).__name__}: {exc}") from None


@functools.lru_cache(maxsize=1)
def _errors():
    from jinja2 import UndefinedError
    from jinja2.sandbox import SecurityError

    return (UndefinedError, SecurityError)


def _explain(exc):
    from jinja2 import UndefinedError

    if isinstance(exc, UndefinedError):
        m = re.match(r"'([^']+)' is undefined", str(exc))
        raise RenderError(str(exc), field=m.group(1) if m else None) from None
    raise RenderError(f"refused by the template sandbox: {exc}") from None


def render(source: str, record: dict) -> str:
    """``source`` filled with the item's fields; RenderError when it cannot be."""
    template = compile_template(source)
    return _rendering(lambda r: "".join(template.root_render_func(_context(template, r))), record)


def evaluate(source: str, record: dict) -> Any:
    """The Python value of a one-expression template (a list stays a list), else its text."""
    template = compile_value(source)
    if template is None:
        return render(source, record)

    def run(r):
        ctx = _context(template, r)
        for _ in template.root_render_func(ctx):
            pass
        return ctx.vars["result"]

    value = _rendering(run, record)
    if type(value).__name__ == "StrictUndefined":  # a bare undefined name: StrictUndefined only raises on use
        _rendering(lambda _: str(value), record)
    return value
