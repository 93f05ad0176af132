"""BFCL prompt-mode decoding of Java and JavaScript calls, with the tree-sitter grammars BFCL uses.

BFCL decodes `simple_java` / `simple_javascript` outputs with tree-sitter (tree_sitter 0.21.3,
tree-sitter-java 0.21.0, tree-sitter-javascript 0.21.4: install them with `pip install "funrl[bfcl-java]"`).
`decode_source(text, language) -> Decoded` reproduces what bfcl-eval returns for a model's text, quirks included:

- the text is prepared as in Python prompt mode (backticks, newlines and spaces stripped from both ends, `[` /
  `]` added when missing), then its first and last characters are dropped and the rest parsed as a program;
- a parse tree with an `ERROR` node fails (`syntax_error`); so do repeated argument names and anything the
  official decoder would raise on;
- only the first call is read (Java: the first `method_invocation` in pre-order, named `object.method`;
  JavaScript: the first `call_expression` directly inside a top-level expression statement);
- arguments are `name=value` assignments; the values stay source text (the checker converts them by the
  parameter's type, see `funrl.calls.javajs`): Java drops the quotes of a top-level string or char literal and
  rebuilds arrays / `new` expressions / nested nodes from their parts, JavaScript drops the quotes of a value
  that starts and ends with the same quote; a bare identifier (and in JavaScript `true`) is a positional
  argument, stored under the key `None`;
- no call at all is not an error for BFCL's decoder but a non-list result, which the checker reports as
  `ast_decoder:decoder_wrong_output_format`: reason `no_call_found` here.

Without the tree-sitter packages the reason is `unsupported_language`, never a guess. Importing this module does
not import tree-sitter; the parsers are built on first use.
"""

from __future__ import annotations

from functools import cache

from funrl.calls.decode import MAX_CODE_CHARS, Decoded, prompt_preprocess

GRAMMARS = {"java": "tree_sitter_java", "javascript": "tree_sitter_javascript"}


@cache
def _parser(language: str):
    """A tree-sitter parser for `language`, or None when the packages are not installed."""
    try:
        import importlib
        import warnings

        from tree_sitter import Language, Parser

        grammar = importlib.import_module(GRAMMARS[language])
        with warnings.catch_warnings():  # the (pointer, name) constructor is the one tree_sitter 0.21 offers
            warnings.simplefilter("ignore")
            lang = Language(grammar.language(), language)
        parser = Parser()
        parser.set_language(lang)
        return parser
    except Exception:  # ImportError, or an incompatible tree-sitter version
        return None


def available(language: str) -> bool:
    """Whether Java / JavaScript decoding is available (the tree-sitter packages import)."""
    return _parser(language) is not None


class _Repeated(Exception):
    """An argument name given twice: the official decoder raises."""


def _add(args: dict, key, value) -> None:
    if key in args:
        raise _Repeated
    args[key] = value


# --- Java ---------------------------------------------------------------------------------------------------------
class _Java:
    """BFCL's Java reading of a parse tree. Node text is cut from the *str* by byte offsets, as BFCL does."""

    def __init__(self, source: str):
        self.source = source

    def text(self, node) -> str:
        return self.source[node.start_byte : node.end_byte]

    def value(self, node, nested: bool = False) -> str:
        kind = node.type
        if kind in ("string_literal", "character_literal"):
            return self.text(node) if nested else self.text(node)[1:-1]
        if kind in ("identifier", "class_literal", "type_identifier", "method_invocation"):
            return self.text(node)
        if kind == "array_creation_expression":
            element_type = self.value(node.child_by_field_name("type"), True)
            return f"new {element_type}[]{self.value(node.child_by_field_name('value'), True)}"
        if kind == "object_creation_expression":
            class_type = self.value(node.child_by_field_name("type"), True)
            arguments = node.child_by_field_name("arguments")
            if not arguments:
                return f"new {class_type}()"
            parts = [self.value(c, True) for c in arguments.children if c.type not in (",", "(", ")")]
            return f"new {class_type}({', '.join(parts)})"
        if kind == "set":
            return "{" + ", ".join(self.value(c, True) for c in node.children if c.type not in (",", "set")) + "}"
        if node.child_count > 0:
            return "".join(self.value(c, True) for c in node.children)
        return self.text(node)

    def arguments(self, node) -> dict:
        args: dict = {}
        for child in node.children:
            if child.type == "assignment_expression":
                _add(args, self.text(child.children[0]), self.value(child.children[2]))
            elif child.type in ("identifier", "class_literal", "set"):
                _add(args, None, self.value(child))
        return args

    def first_call(self, node):
        if node.type == "method_invocation":
            name = self.text(node.child_by_field_name("name"))
            owner = node.child_by_field_name("object")
            if owner:
                name = f"{self.text(owner)}.{name}"
            arguments = node.child_by_field_name("arguments")
            return [{name: self.arguments(arguments)}] if arguments else None  # no descent into its children
        for child in node.children:
            found = self.first_call(child)
            if found:
                return found
        return None


# --- JavaScript ---------------------------------------------------------------------------------------------------
def _js_arguments(node) -> dict:
    args: dict = {}
    for child in node.children:
        if child.type == "assignment_expression":
            value = child.children[2].text.decode("utf-8")
            if (value.startswith('"') and value.endswith('"')) or (value.startswith("'") and value.endswith("'")):
                value = value[1:-1]
            _add(args, child.children[0].text.decode("utf-8"), value)
        elif child.type in ("identifier", "true"):
            _add(args, None, child.text.decode("utf-8"))
    return args


def _js_first_call(root):
    if root.type != "program":
        return None
    for statement in root.children:
        if statement.type != "expression_statement":
            continue
        for node in statement.children:
            if node.type == "call_expression":
                return [{node.children[0].text.decode("utf8"): _js_arguments(node.children[1])}]
    return None


def decode_source(text: str, language: str) -> Decoded:
    """Decode BFCL prompt-mode Java / JavaScript output the way bfcl-eval does.

    Args:
        text (`str`): the model output (or the answer body of the funrl template).
        language (`str`): `"java"` or `"javascript"`.

    Returns:
        `Decoded(calls, reason, notes)`: `calls` is `[{name: {arg: source_text}}]` (one call at most), or None with
        a reason: `unsupported_language` (tree-sitter missing), `input_too_long`, `syntax_error`, `no_call_found`.
    """
    parser = _parser(language)
    if parser is None:
        return Decoded(None, "unsupported_language", ())
    code, note_list = prompt_preprocess(text)
    notes = tuple(note_list)
    if len(code) > MAX_CODE_CHARS:
        return Decoded(None, "input_too_long", notes)
    source = code[1:-1]
    try:
        tree = parser.parse(source.encode("utf8"))
        root = tree.root_node
        if "ERROR" in root.sexp():
            return Decoded(None, "syntax_error", notes)
        calls = _Java(source).first_call(root) if language == "java" else _js_first_call(root)
    except _Repeated:
        return Decoded(None, "repeated_argument", notes)
    except RecursionError:
        return Decoded(None, "too_deep", notes)
    except Exception:  # a surrogate that UTF-8 cannot encode, a node without the expected children...
        return Decoded(None, "syntax_error", notes)
    if not calls:
        return Decoded(None, "no_call_found", notes)
    return Decoded(calls, None, notes)
