"""The package build compiles the translation catalogues (messages.po to messages.mo), as
`make run` and `make test` do: compiled catalogues are never committed. Everything else about
the package is in pyproject.toml."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogues(build_py):
    def run(self):
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in Path(__file__).resolve().parent.glob("xtablo/translations/*/LC_MESSAGES/messages.po"):
            with po.open("rb") as source:
                catalogue = read_po(source)
            with po.with_suffix(".mo").open("wb") as target:
                write_mo(target, catalogue)
        super().run()


setup(cmdclass={"build_py": BuildWithCatalogues})
