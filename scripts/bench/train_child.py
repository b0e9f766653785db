"""Trains one peer vocabulary in this (fresh) process, so its peak RSS is its own.
Usage: train_child.py KIND SIZE TRAIN_FILE OUT_PREFIX  (prints {"seconds", "entries"} as JSON)
The timer excludes interpreter start-up and imports; the RSS includes them."""
import sys
import time

from common import GPT4_PATTERN, emit, read_lines


def sentencepiece(kind, size, train, out):
    import sentencepiece as spm

    model_type, _, normalization = kind.removeprefix("spm-").partition("-")
    options = dict(
        input=train, model_prefix=out, model_type=model_type, vocab_size=size,
        character_coverage=0.9995, byte_fallback=True, num_threads=2,
        max_sentence_length=1 << 20, minloglevel=2,
    )
    if normalization != "nfkc":
        # Lossless: no NFKC, no leading "▁" added, no whitespace collapsing.
        options.update(normalization_rule_name="identity", add_dummy_prefix=False,
                       remove_extra_whitespaces=False)
    spm.SentencePieceTrainer.train(**options)
    return spm.SentencePieceProcessor(model_file=out + ".model").get_piece_size()


def hf_bpe(size, train, out):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=size, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train([train], trainer)
    tok.save(out + ".json")
    return tok.get_vocab_size()


def rustbpe_train(size, train):
    import rustbpe

    tok = rustbpe.Tokenizer()
    with open(train, encoding="utf-8") as f:
        tok.train_from_iterator((line.rstrip("\n") for line in f), vocab_size=size,
                                pattern=GPT4_PATTERN)
    return tok


def rustbpe_save(tok, out):
    """rustbpe cannot load a model, so its ranks are kept for tiktoken (tiktoken's file format)."""
    import base64

    with open(out + ".tiktoken", "w", encoding="ascii") as f:
        for token, rank in sorted(tok.get_mergeable_ranks(), key=lambda item: item[1]):
            f.write(f"{base64.b64encode(bytes(token)).decode()} {rank}\n")


def main():
    kind, size, train, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    start = time.perf_counter()
    if kind.startswith("spm-"):
        entries = sentencepiece(kind, size, train, out)
    elif kind == "hf-bpe":
        entries = hf_bpe(size, train, out)
    elif kind == "rustbpe":
        tok = rustbpe_train(size, train)
        entries = tok.vocab_size
    else:
        sys.exit(f"unknown trainer {kind}")
    seconds = time.perf_counter() - start
    if kind == "rustbpe":
        rustbpe_save(tok, out)
    emit({"seconds": seconds, "entries": entries})


if __name__ == "__main__":
    main()
