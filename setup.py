# nbdev 2 setup.py: every setting comes from settings.ini.
from configparser import ConfigParser
import setuptools

config = ConfigParser(delimiters=["="])
config.read("settings.ini", encoding="utf-8")
cfg = config["DEFAULT"]

for key in "version description keywords author author_email".split():
    assert key in cfg, f"missing {key} in settings.ini"

statuses = ["1 - Planning", "2 - Pre-Alpha", "3 - Alpha", "4 - Beta", "5 - Production/Stable", "6 - Mature", "7 - Inactive"]
requirements = cfg.get("requirements", "").split()
console_scripts = cfg.get("console_scripts", "").split()

setuptools.setup(
    name=cfg["lib_name"],
    version=cfg["version"],
    license="Apache Software License 2.0",
    classifiers=[
        "Development Status :: " + statuses[int(cfg["status"])],
        "Intended Audience :: " + cfg["audience"],
        "License :: OSI Approved :: Apache Software License",
        "Natural Language :: " + cfg["language"],
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
    url=cfg["git_url"],
    packages=setuptools.find_packages(include=["mgnb", "mgnb.*"]),
    include_package_data=True,
    package_data={"mgnb": ["assets/*"]},
    install_requires=requirements,
    extras_require={
        "pose": cfg.get("pose_requirements", "").split(),
        "dev": cfg.get("dev_requirements", "").split(),
    },
    python_requires=">=" + cfg["min_python"],
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    zip_safe=False,
    entry_points={"console_scripts": console_scripts, "nbdev": [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
)
