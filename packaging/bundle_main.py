"""The desktop bundle's entry point: one program, two executables.

PyInstaller builds ``planner`` (console) and ``planner-gui`` (windowed on Windows and macOS)
from this file; each runs what its name says, as the wheel's console scripts do.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> int:
    """Run the desktop app when started as ``planner-gui``, else the command line."""
    if Path(sys.executable).stem.lower() == "planner-gui":
        from planner.gui.app import main as gui_main

        return gui_main(sys.argv[1:])
    from planner.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
