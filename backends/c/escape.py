"""Escaping for every name that reaches generated C, Make or CMake text.

Model file names, ONNX node and tensor names, module attributes such as
``edgecc.source`` and ``--prefix`` come from the user's files. A newline in
a file name written verbatim into ``model.mk`` would add Make rules to the
firmware build, a ``*/`` in a node name would end a C comment. Each target
language has one routine here, and every emitter uses it:

- ``c_comment``: text inside ``/* ... */`` (also safe in ``//`` comments);
- ``c_string``: a C string literal, quotes included;
- ``c_identifier``: a valid, bounded-length C identifier;
- ``make_comment`` / ``make_path``: a Make comment line / a file name in a rule;
- ``cmake_comment`` / ``cmake_string``: a CMake comment line / a quoted argument.

Comment text keeps only printable ASCII (anything else becomes ``\\xNN`` /
``\\uNNNN``), so no language's line structure can be broken from a name.
"""

from __future__ import annotations

import hashlib
import re

from edgecc.ir.diagnostics import EdgeccError

C_KEYWORDS = frozenset("""auto break case char const continue default do double else enum extern float for goto
if inline int long register restrict return short signed sizeof static struct switch typedef union unsigned
void volatile while main _Bool _Complex _Imaginary _Alignas _Alignof _Atomic _Generic _Noreturn
_Static_assert _Thread_local""".split())
#: longest text kept in a comment (a 5,000-character node name is shortened, with a digest)
COMMENT_MAX = 120
#: C99 guarantees 63 significant characters in internal identifiers
IDENTIFIER_MAX = 63


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def ascii_text(text: str, limit: int = COMMENT_MAX) -> str:
    """Printable ASCII only: backslash doubled, everything else as ``\\xNN``/``\\uNNNN``; bounded."""
    out = []
    for ch in str(text):
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif 0x20 <= o < 0x7F:
            out.append(ch)
        elif o < 0x100:
            out.append(f"\\x{o:02x}")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    s = "".join(out)
    if len(s) > limit:
        s = s[: limit - 12] + "...#" + _digest(text)
    return s + " ." if s.endswith("\\") else s  # a final backslash would continue the line


def c_comment(text: str, limit: int = COMMENT_MAX) -> str:
    """TEXT for inside a C comment: no ``*/``, ``/*``, newline or line-continuing backslash."""
    s = ascii_text(text, limit)
    return s.replace("*/", "*\\/").replace("/*", "/\\*").replace("??", "?\\?")


def c_string(text: str) -> str:
    """A C string literal (with quotes) holding TEXT's UTF-8 bytes exactly."""
    out = ['"']
    for b in str(text).encode("utf-8", "surrogatepass"):
        ch = chr(b)
        if ch in '"\\?':  # '?' too: "??=" is a trigraph under -std=c99
            out.append("\\" + ch)
        elif 0x20 <= b < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{b:03o}")  # octal: at most three digits, unlike greedy \x
    out.append('"')
    return "".join(out)


def c_identifier(name: str | None, fallback: str, limit: int = IDENTIFIER_MAX) -> str:
    """A C identifier from NAME (letters, digits, ``_``); FALLBACK when nothing is left.

    Shortened names end in a digest of the full name, so two long names that share
    a prefix stay distinct.
    """
    s = re.sub(r"[^A-Za-z0-9_]", "_", name or "").strip("_")
    if not s:
        s = fallback
    if s[0].isdigit():
        s = "t" + s
    if s in C_KEYWORDS:
        s += "_"
    if len(s) > limit:
        s = s[: limit - 9] + "_" + _digest(name or s)
    return s


def make_comment(text: str) -> str:
    """TEXT for a Make comment line (``#`` already written): one line, no continuation."""
    return ascii_text(text)


def make_path(path: str) -> str:
    """A file name in a Make/Ninja rule or depfile; names Make cannot express are refused."""
    if any(c in path for c in "\n\r\0"):
        raise EdgeccError(f"path {ascii_text(path)!r} contains a newline or NUL, which Make cannot "
                          "express; rename it")
    return path.replace("\\", "/").replace("$", "$$").replace("#", "\\#").replace(" ", "\\ ")


def cmake_comment(text: str) -> str:
    """TEXT for a CMake ``#`` comment line."""
    return ascii_text(text)


def cmake_string(text: str) -> str:
    """A quoted CMake argument holding TEXT literally (no variable references, no newlines)."""
    s = str(text)
    s = s.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("@", "\\@")
    s = s.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t").replace(";", "\\;")
    return f'"{s}"'


__all__ = ["C_KEYWORDS", "ascii_text", "c_comment", "c_identifier", "c_string", "cmake_comment",
           "cmake_string", "make_comment", "make_path"]
