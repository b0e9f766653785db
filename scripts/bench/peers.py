"""Uniform encode / decode adapters over the peer libraries, for encode_child.py.
Each adapter's encode_lines uses the library's batch API with the thread count it is given
(rayon pools read RAYON_NUM_THREADS, which the parent sets before this process starts)."""
import base64
from pathlib import Path


class Adapter:
    def encode_lines(self, lines):  # returns the library's own result; ids() converts it
        raise NotImplementedError

    def encode_doc(self, doc):
        return self.encode_lines([doc])

    def ids(self, result):
        return result

    def decode(self, ids):
        raise NotImplementedError

    def extra_line_modes(self):
        """Other single-thread ways to encode lines worth timing: {mode: callable}."""
        return {}


class HFBpe(Adapter):
    def __init__(self, path, threads):
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(path)
        # encode_batch_fast skips offsets, the cheapest batch call the library has.
        self.batch = getattr(self.tok, "encode_batch_fast", self.tok.encode_batch)

    def encode_lines(self, lines):
        return self.batch(lines, add_special_tokens=False)

    def encode_doc(self, doc):
        return [self.tok.encode(doc, add_special_tokens=False)]

    def ids(self, result):
        return [encoding.ids for encoding in result]

    def decode(self, ids):
        return self.tok.decode(ids, skip_special_tokens=False)


class SentencePiece(Adapter):
    def __init__(self, path, threads):
        import sentencepiece as spm

        self.sp = spm.SentencePieceProcessor(model_file=path)
        self.threads = threads

    def encode_lines(self, lines):
        return self.sp.encode(lines, out_type=int, num_threads=self.threads)

    def encode_doc(self, doc):
        return [self.sp.encode(doc, out_type=int)]

    def decode(self, ids):
        return self.sp.decode(ids)


class RustBpe(Adapter):
    """rustbpe has no loader: the model is trained again here (untimed) from the same text."""

    def __init__(self, path, threads, train_file, size):
        import rustbpe
        from common import GPT4_PATTERN

        self.tok = rustbpe.Tokenizer()
        with open(train_file, encoding="utf-8") as f:
            self.tok.train_from_iterator((line.rstrip("\n") for line in f), vocab_size=size,
                                         pattern=GPT4_PATTERN)
        # rustbpe's decode rebuilds its id -> bytes table on every call (about 5 ms at 32,000 entries),
        # which would dominate the round-trip check; the same byte concatenation is done here.
        self.pieces = {rank: bytes(token) for token, rank in self.tok.get_mergeable_ranks()}

    def encode_lines(self, lines):
        return self.tok.batch_encode(lines)

    def encode_doc(self, doc):
        return [self.tok.encode(doc)]

    def decode(self, ids):
        return b"".join(self.pieces[i] for i in ids).decode("utf-8", errors="replace")


def load_ranks(path):
    """A tiktoken-format ranks file ("base64 rank" lines), plain or gzipped."""
    import gzip

    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    ranks = {}
    for line in raw.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def hf_ranks(path):
    """Mergeable ranks from a byte-level HF BPE model: ids follow merge order, so they serve as ranks."""
    import json

    from tokenizers.pre_tokenizers import ByteLevel

    # ByteLevel maps each byte to one printable character; invert that mapping.
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            chars[chr(byte)] = byte
        else:
            chars[chr(256 + extra)] = byte
            extra += 1
    assert set(chars) == set(ByteLevel.alphabet())
    vocab = json.loads(Path(path).read_text(encoding="utf-8"))["model"]["vocab"]
    return {bytes(chars[c] for c in token): rank for token, rank in vocab.items()}


class Tiktoken(Adapter):
    def __init__(self, path, threads, pattern=None, name="trained"):
        import tiktoken
        from common import GPT4_PATTERN

        if path.endswith(".json"):
            ranks = hf_ranks(path)
        elif path.endswith(".tiktoken") or path.endswith(".gz"):
            ranks = load_ranks(path)
        else:  # a vocabulary carried by bpe-openai, e.g. "cl100k_base"
            from bpe_openai import registry

            config = registry.ENCODING_CONSTRUCTORS[path]()
            ranks, pattern = config["mergeable_ranks"], config["pat_str"]
        self.enc = tiktoken.Encoding(name=name, pat_str=pattern or GPT4_PATTERN,
                                     mergeable_ranks=ranks, special_tokens={})
        self.threads = threads

    def encode_lines(self, lines):
        return self.enc.encode_ordinary_batch(lines, num_threads=self.threads)

    def encode_doc(self, doc):
        return [self.enc.encode_ordinary(doc)]

    def decode(self, ids):
        return self.enc.decode_bytes(ids).decode("utf-8", errors="replace")

    def extra_line_modes(self):
        encode = self.enc.encode_ordinary
        return {"lines-loop": lambda lines: [encode(line) for line in lines]}


class BpeOpenAI(Adapter):
    """bpe-openai's compiled tokenizer, called directly (its Python wrapper only adds checks).
    The binding holds the GIL, so threads cannot help: 2-thread figures are not measured."""

    def __init__(self, path, threads):
        from bpe_openai import _bindings

        self.tok = _bindings.tokenizer_for_encoding(path)

    def encode_lines(self, lines):
        encode = self.tok.encode
        return [encode(line) for line in lines]

    def encode_doc(self, doc):
        return [self.tok.encode(doc)]

    def decode(self, ids):
        return self.tok.decode(ids)


def make(kind, path, threads, train_file=None, size=None):
    if kind == "hf-bpe":
        return HFBpe(path, threads)
    if kind.startswith("spm-"):
        return SentencePiece(path, threads)
    if kind == "rustbpe":
        return RustBpe(path, threads, train_file, size)
    if kind.startswith("tiktoken"):
        return Tiktoken(path, threads)
    if kind.startswith("bpe-openai"):
        return BpeOpenAI(path, threads)
    raise SystemExit(f"unknown tokenizer kind {kind}")
