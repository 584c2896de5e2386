"""The public API is the contract: plugins import only ``mmeval`` and ``mmeval.testing``; the core
never imports a plugin; everything ``mmeval.__all__`` names resolves."""

import ast
from pathlib import Path

import mmeval

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = {"mmeval", "mmeval.testing"}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out


def test_plugins_import_only_the_public_api():
    bad = [f"{p.relative_to(ROOT)}:{line}: {mod}"
           for p in sorted((ROOT / "plugins").rglob("*.py"))
           for line, mod in _imports(p)
           if (mod == "mmeval" or mod.startswith("mmeval.")) and mod not in PUBLIC]
    assert not bad, "private mmeval modules imported by plugins:\n" + "\n".join(bad)


def test_the_core_imports_no_plugin():
    plugins = {p.name.replace("-", "_") for p in (ROOT / "plugins").iterdir() if p.is_dir()}
    bad = [f"{p.relative_to(ROOT)}:{line}: {mod}"
           for p in sorted((ROOT / "mmeval").rglob("*.py"))
           for line, mod in _imports(p) if mod.split(".")[0] in plugins]
    assert not bad, "the core imports plugins:\n" + "\n".join(bad)


def test_the_walker_sees_a_private_import(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("from mmeval.zoo import cache_dir\nimport mmeval.store\nfrom mmeval import plan\n")
    assert [m for _, m in _imports(sample)] == ["mmeval.zoo", "mmeval.store", "mmeval"]


def test_every_public_name_resolves():
    for name in mmeval.__all__:
        assert getattr(mmeval, name) is not None, name
