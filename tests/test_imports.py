"""The package's import graph, read from the source: no circles, and imports deferred into
functions only where start-up needs it.

Every ``import`` statement of every module counts, at the top or inside a function, except
those under ``if TYPE_CHECKING:`` (type names only, never executed).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "esp_cabundle"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    deferred: bool  # inside a function


def module_names() -> dict[str, Path]:
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


MODULES = module_names()


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (a.name for a in node.names)
        return
    base = module.split(".")
    if MODULES[module].name != "__init__.py":
        base.pop()
    if node.level:
        base = base[: len(base) - node.level + 1]
        target = ".".join([*base, node.module] if node.module else base)
    else:
        target = node.module or ""
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        yield sub if sub in MODULES else target


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _walk(node: ast.AST, deferred: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for child in ast.iter_child_nodes(node):
        if _is_type_checking(child):
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, deferred
        inner = deferred or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
        yield from _walk(child, inner)


def edges() -> list[Edge]:
    out = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node, deferred in _walk(tree, False):
            for target in _targets(module, node):
                if target in MODULES and target != module:
                    out.append(Edge(module, target, node.lineno, deferred))
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_among_the_package_modules() -> None:
    graph: dict[str, set[str]] = {}
    for e in edges():
        graph.setdefault(e.source, set()).add(e.target)
    found = cycles(graph)
    assert not found, "import circles: " + "; ".join(" <-> ".join(c) for c in found)


# Imported inside functions, and only by the modules that wrap them, so that ``--help``
# and ``build`` never pay for them (benchmarks/bench_startup.py).
HEAVY_WRAPPERS: dict[str, tuple[str, ...]] = {
    "cryptography": (
        "esp_cabundle.certificate",
        "esp_cabundle.pubkeys",
        "esp_cabundle.formats.idf_bundle",
        "esp_cabundle.keyscan_nested",  # naming the certificate a key was found in
        "esp_cabundle.verify.asn1",
        "esp_cabundle.verify.nodes",
        "esp_cabundle.verify.verifier",
    ),
    "yaml": ("esp_cabundle.yamlnodes",),
    "rich": (
        "esp_cabundle.commands._unit",
        "esp_cabundle.commands._bench",
        "esp_cabundle.flash.esptool_log",
    ),
    "ssl": ("esp_cabundle.chains",),
    "certifi": ("esp_cabundle.catalog",),
    "mbedtls": ("esp_cabundle.bundle",),
    "paho": ("esp_cabundle.push.mqtt", "esp_cabundle.virtual.rpc_links"),
    "websockets": ("esp_cabundle.push.http", "esp_cabundle.virtual.rpc_links"),
    "esptool": ("esp_cabundle.flash.serial", "esp_cabundle.flash.esptool_log"),
    "esp_pylib": ("esp_cabundle.flash.esptool_log",),
    "littlefs": (
        "esp_cabundle.fs.lfs_device",
        "esp_cabundle.fs.lfs_files",
        "esp_cabundle.fs.littlefs",
    ),
    "serial": (
        "esp_cabundle.flash.ports",
        "esp_cabundle.flash.serial",
        "esp_cabundle.virtual.unit",
    ),
}


def _marked(lines: list[str], line: int) -> bool:
    """``# deferred: why`` on the import's line or on the comment lines just above it."""
    if "# deferred" in lines[line - 1]:
        return True
    i = line - 2
    while i >= 0 and lines[i].strip().startswith("#"):
        if lines[i].strip().startswith("# deferred"):
            return True
        i -= 1
    return False


def test_imports_inside_functions_are_heavy_packages_in_their_wrappers_or_say_why() -> None:
    problems = []
    for module, path in MODULES.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines))
        for node, deferred in _walk(tree, False):
            if not deferred:
                continue
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            top = (node.module or "") if isinstance(node, ast.ImportFrom) else names[0]
            package = top.split(".")[0] if not getattr(node, "level", 0) else ""
            if package in HEAVY_WRAPPERS:
                if module not in HEAVY_WRAPPERS[package]:
                    problems.append(f"{module}:{node.lineno}: {package} outside its wrappers")
            elif not _marked(lines, node.lineno):
                problems.append(f"{module}:{node.lineno}: move it up, or say '# deferred: why'")
    assert not problems, "\n".join(problems)


def test_heavy_packages_are_never_imported_at_module_top() -> None:
    found = []
    for module, path in MODULES.items():
        for node, deferred in _walk(ast.parse(path.read_text(encoding="utf-8")), False):
            if deferred or getattr(node, "level", 0):
                continue
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            top = (node.module or "") if isinstance(node, ast.ImportFrom) else names[0]
            if top.split(".")[0] in HEAVY_WRAPPERS:
                found.append(f"{module}: {top}")
    # A maintainer's tool, and the LAN transport of 'push': neither is on a start-up path.
    assert found == ["esp_cabundle.known_roots_gen: certifi", "esp_cabundle.push.http: ssl"]


# What a plain ``build`` (no config file, no image output, a PEM file of roots) must not
# import: each costs start-up (benchmarks/bench_vendor.py races ESP-IDF's own script)
# and is needed only by inputs or outputs that this build does not have.
BUILD_NEVER_IMPORTS = (
    "esp_cabundle.yamlnodes",  # a config file
    "esp_cabundle.images",  # an image output
    "esp_cabundle.pkcs12",  # a PKCS#12 store in the input
    "esp_cabundle.fs",
    "esp_cabundle.commands._missing",  # usage hints: an error, or two options in a row
    "esp_cabundle.commands._repeated",  # an option typed twice, or a short-option cluster
    "yaml",
)

_BUILD_AND_LIST_MODULES = """
import sys
from esp_cabundle.cli import run
code = run(sys.argv[1:])
print(code)
print("\\n".join(sorted(sys.modules)))
"""


def _modules_of_a_run(cwd: Path, args: list[str]) -> list[str]:
    """Every module a fresh interpreter holds after running the command ``args`` (which
    must succeed)."""
    r = subprocess.run(
        [sys.executable, "-c", _BUILD_AND_LIST_MODULES, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    code, *modules = r.stdout.splitlines()
    assert code == "0", r.stderr
    return modules


def test_a_plain_build_imports_no_module_it_does_not_need(tmp_path: Path) -> None:
    roots = PACKAGE.parent / "tests" / "data" / "idf-bundle" / "input" / "cacrt_all.pem"
    args = ["build", "-q", "-f", "idf-bundle", "--idf-version", "5.0", "--root", str(roots)]
    args += ["--allow", "expired", "-o", "ours.bin"]
    modules = _modules_of_a_run(tmp_path, args)
    assert (tmp_path / "ours.bin").stat().st_size > 0
    assert "esp_cabundle.formats.idf_bundle" in modules  # the list is the build's
    assert [m for m in BUILD_NEVER_IMPORTS if m in modules] == []


# What a plain SPIFFS ``pack`` of a CA file must not import: LittleFS's platform table
# (its rows are made on import) and the flash cache and overlay (a unit's or a dump's
# flash, never a new image's); each frozen dataclass costs ~0.4 ms to make at start-up.
PACK_NEVER_IMPORTS = (
    "esp_cabundle.blocks.cache",
    "esp_cabundle.blocks.overlay",
    "esp_cabundle.fs.lfs_platforms",
    "esp_cabundle.fs.lfs_releases",
    "esp_cabundle.yamlnodes",
    "esp_cabundle.pkcs12",
)


def test_a_plain_spiffs_pack_imports_no_module_it_does_not_need(tmp_path: Path) -> None:
    roots = PACKAGE.parent / "tests" / "data" / "idf-bundle" / "input" / "cacrt_all.pem"
    args = ["pack", "-q", "--fs", "spiffs", "--profile", "esp-idf", "--size", "1408K"]
    args += ["--bundle", str(roots), "--allow", "expired", "-o", "ours-spiffs.bin"]
    modules = _modules_of_a_run(tmp_path, args)
    assert (tmp_path / "ours-spiffs.bin").stat().st_size == 1408 * 1024
    assert "esp_cabundle.fs.spiffs" in modules  # the list is the pack's
    assert "esp_cabundle.blocks" in modules  # the package, for SECTOR_SIZE alone
    assert [m for m in PACK_NEVER_IMPORTS if m in modules] == []


_LAZY_PATTERNS_AT_IMPORT = """
import re, sys
seen = []
_compile = re.compile
def compile(pattern, flags=0):
    seen.append(str(pattern))
    return _compile(pattern, flags)
re.compile = compile
from esp_cabundle import catalog, certificate, certs, dates, fileio, limits, ui
from esp_cabundle.formats import c_source, idf_bundle
from esp_cabundle.fs import lfs_platforms, lfs_releases
lazy = [
    r'"[^"\\\\]*(?:', r'"(?:[^"\\\\]|', r"[ \\t\\n\\r]*:", r"{8}\\.tmp$", "ParseError",
    "([0-9]{4})-", "^[A-Za-z_][A-Za-z0-9_]*$", "( *)([^ ]+)", "^[0-9a-f]{64}$",
    "(?P<kind>arduino", "(?P<family>",
    r"(?:0|[1-9]\\d{0,3})\\.",
]
print([p for p in seen if any(p.startswith(f) or f in p for f in lazy)])
from esp_cabundle.blocks import FlashCache, SectorWrite
print(FlashCache.__module__, SectorWrite.__module__)
print(dates.nearest_date("2030-13-01"), fileio.is_temporary_name(".x.abcdefgh.tmp"))
print(limits.json_key_line('{\\n"a": 1}', "a"), idf_bundle.bundle_format_for("idf-5.4"))
print(catalog.normalize_fingerprint("AB" * 32) == "ab" * 32, ui._wrapped("a b", 1, "", ""))
print(lfs_platforms.resolve_platform("arduino-2.0.0").spec)
print(lfs_releases.version_problem("arduino", "2.0.017").meant)
print(certificate._parse_reason(ValueError('ParseError { kind: InvalidValue, location: ["X"] }')))
c_source.check_c_option("name", "ca_pem")
"""


def test_patterns_only_errors_or_rare_inputs_need_compile_on_first_use() -> None:
    """Start-up compiled them for every command (~1 ms together); the modules now
    compile no pattern at import, and the patterns still match once asked."""
    r = subprocess.run(
        [sys.executable, "-c", _LAZY_PATTERNS_AT_IMPORT], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "[]",
        "esp_cabundle.blocks.cache esp_cabundle.blocks.overlay",
        "2030-12-01 True",
        "2 v2",
        "True ['a', 'b']",
        "arduino-2.0.0",
        "2.0.17",
        "malformed DER: invalid value in X",
    ]


_SIZE_PATTERNS_AT_IMPORT = """
import re, sys
seen = []
_compile = re.compile
def compile(pattern, flags=0):
    seen.append(pattern)
    return _compile(pattern, flags)
re.compile = compile
import esp_cabundle.commands.options  # every command's options, size parsing among them
from esp_cabundle import sizes
print(sum(1 for p in seen if "[km]" in str(p) or "[a-z]+" in str(p)))
print(sizes.parse_size("256K"), sizes.size_problem("1.5K") or "")
"""


def test_size_patterns_compile_only_when_a_size_is_parsed() -> None:
    """Start-up of every command imports the size parser; its patterns cost ~0.4 ms to
    compile, so they wait for the first size given (and then still work)."""
    r = subprocess.run(
        [sys.executable, "-c", _SIZE_PATTERNS_AT_IMPORT], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    at_import, parsed = r.stdout.splitlines()
    assert at_import == "0"
    value, problem = parsed.split(" ", 1)
    assert value == "262144"
    assert "not a fraction" in problem  # still refused, in words
