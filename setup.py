"""Maps the fixed top-level folders onto the one import name ``edgecc``.

With a custom package-dir, setuptools does not discover subpackages, so the
list is built per folder here; otherwise a subpackage would import in an
editable install and be missing from the wheel.
"""

from setuptools import find_packages, setup

ROOTS = {"edgecc": "compiler", "edgecc.backends": "backends", "edgecc.runtime": "runtime"}

packages, package_dir = [], {}
for name, folder in ROOTS.items():
    package_dir[name] = folder
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir=package_dir)
