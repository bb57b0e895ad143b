"""`python -m tests.without <package> <module> [args]`: runs `python -m <module> [args]` as if
<package> were not installed (importing it fails, as it would)."""

import runpy
import sys


def main() -> None:
    package, module, *args = sys.argv[1:]
    sys.modules[package] = None  # import raises ImportError; importlib.util.find_spec gives None
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
