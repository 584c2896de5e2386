import subprocess
import sys

PROBE = ("import mmeval\nfrom mmeval.compat import ensure_torchvision_importable as e\n"
         "status = e()\nimport torchvision, open_clip\nprint(status)")


def _run(code, **env):
    import os

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env})


def test_torchvision_and_open_clip_import_after_mmeval():
    proc = _run(PROBE)
    assert proc.returncode == 0, proc.stderr
    status = proc.stdout.strip()
    assert status in ("native", "shimmed")
    off = _run("import mmeval, torchvision", MMEVAL_TORCHVISION_SHIM="0")
    if status == "shimmed":
        # the shim is what makes it work here, and it is switchable
        assert off.returncode != 0 and "torchvision::nms" in off.stderr
    else:
        # a working torchvision extension: the shim does nothing
        assert off.returncode == 0, off.stderr


def test_shim_does_nothing_when_torchvision_was_imported_first():
    proc = _run("import sys, types; sys.modules['torchvision'] = types.ModuleType('torchvision')\n"
                "import mmeval\nfrom mmeval.compat import ensure_torchvision_importable as e\n"
                "print(e())")
    assert proc.stdout.strip() == "already-imported", proc.stderr
