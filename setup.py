"""Build hook: install ``tlsapi-inject.pth`` at the top of site-packages (the start-up switch, see README).

Everything else is in ``pyproject.toml``.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

STARTUP_HOOK = "tlsapi-inject.pth"


class BuildWithStartupHook(build_py):
    """``build_py`` that also copies the start-up hook next to the packages."""

    def run(self) -> None:
        super().run()
        self.copy_file(STARTUP_HOOK, str(Path(self.build_lib) / STARTUP_HOOK), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib) / STARTUP_HOOK)]


setup(cmdclass={"build_py": BuildWithStartupHook})
