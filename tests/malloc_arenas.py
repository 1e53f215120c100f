"""Count glibc's malloc arenas, in this process or in another one: what explorer/__main__.py's limit_malloc_arenas()
caps (tests/test_load.py). glibc's malloc_info() lists one <heap nr="N"> element per arena."""
from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

# The app's process is probed through a sitecustomize module on its PYTHONPATH, so that it still runs as
# `python -m explorer`: it installs a SIGUSR1 handler (no thread, no allocation that could take an arena) that writes
# malloc_info()'s XML to $MALLOC_INFO_FILE. Python runs the handler in the main thread, which idles in Gradio's
# launch() while the server's threads serve.
SITECUSTOMIZE = '''
import ctypes, ctypes.util, os, signal

def _write_malloc_info(signum, frame):
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.fopen.restype = ctypes.c_void_p
    target = os.environ["MALLOC_INFO_FILE"]
    fp = libc.fopen((target + ".part").encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(fp))
    libc.fclose(ctypes.c_void_p(fp))
    os.replace(target + ".part", target)

signal.signal(signal.SIGUSR1, _write_malloc_info)
'''


def count_heaps(malloc_info_xml: str) -> int:
    return len(re.findall(r'<heap nr="\d+">', malloc_info_xml))


def count_arenas() -> int:
    """This process's arenas (the main one included)."""
    import ctypes
    import ctypes.util
    import tempfile

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.fopen.restype = ctypes.c_void_p
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "malloc_info.xml")
        fp = libc.fopen(path.encode(), b"w")
        libc.malloc_info(0, ctypes.c_void_p(fp))
        libc.fclose(ctypes.c_void_p(fp))
        return count_heaps(Path(path).read_text())


def probe_env(folder: Path) -> dict[str, str]:
    """The environment that makes a Python process answer `arenas_of` (writes the sitecustomize into `folder`)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH")) if p)
    return {"PYTHONPATH": path, "MALLOC_INFO_FILE": str(folder / "malloc_info.xml")}


def arenas_of(pid: int, env: dict[str, str], timeout_s: float = 10) -> int:
    """The arenas of a process started with `probe_env`'s environment, as its malloc_info() reports them now."""
    report = Path(env["MALLOC_INFO_FILE"])
    report.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout_s
    while not report.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"process {pid} wrote no malloc_info (is its sitecustomize on its PYTHONPATH?)")
        time.sleep(0.02)
    return count_heaps(report.read_text())


# A fresh interpreter that starts THREADS threads, each of which mallocs while all the others are alive (each thread
# that mallocs first takes an arena of its own while glibc allows one more), then prints the arena count. With a
# second argument, the source of a function (explorer/__main__.py's limit_malloc_arenas, as inspect.getsource gives
# it: its own code, without importing the app's modules and torch), which it defines and calls first, as main() does
# before serving.
THREADS = 12
THREADED_MALLOCS = f'''
import ctypes, ctypes.util, sys, threading
from tests.malloc_arenas import count_arenas
if len(sys.argv) > 1:
    scope = {{}}
    exec(sys.argv[1], scope)
    next(f for name, f in scope.items() if callable(f) and not name.startswith("__"))()
libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
libc.malloc.restype = ctypes.c_void_p
together = threading.Barrier({THREADS})
def work():
    together.wait()
    blocks = [libc.malloc(1000) for _ in range(100)]
    together.wait()
    for block in blocks:
        libc.free(ctypes.c_void_p(block))
threads = [threading.Thread(target=work) for _ in range({THREADS})]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(count_arenas())
'''
