"""Chinese word segmentation scored against the gold segmentation, by character spans.
Usage: segment.py HELD GOLD [PREDICTIONS] — without PREDICTIONS, jieba (HMM on and off) segments HELD.
Prints one JSON list of {segmenter, precision, recall, f1, ...}."""
import sys
import time

from common import BENCH, emit, read_lines


def spans(words):
    """[start, end) character spans of the non-blank words, ignoring whitespace between them."""
    result, pos = set(), 0
    for word in words:
        word = "".join(word.split())
        if word:
            result.add((pos, pos + len(word)))
            pos += len(word)
    return result, pos


def score(name, predicted_lines, gold_lines, seconds=None, nbytes=None):
    correct = predicted = gold = misaligned = 0
    for pred, ref in zip(predicted_lines, gold_lines):
        pred_spans, pred_len = spans(pred)
        gold_spans, gold_len = spans(ref.split(" "))
        if pred_len != gold_len:  # the segmenter changed the text: every word of the line counts as wrong
            misaligned += 1
            pred_spans = set()
        correct += len(pred_spans & gold_spans)
        predicted += len(pred_spans)
        gold += len(gold_spans)
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    row = {"segmenter": name, "precision": precision, "recall": recall, "f1": f1,
           "lines": len(gold_lines), "gold_words": gold, "misaligned_lines": misaligned}
    if seconds:
        row["mb_per_cpu_second"] = nbytes / 1e6 / seconds
    return row


def main():
    held, gold_lines = read_lines(sys.argv[1]), read_lines(sys.argv[2])
    assert len(held) == len(gold_lines)
    if len(sys.argv) > 3:
        predicted = [line.split(" ") for line in read_lines(sys.argv[3])]
        emit([score("ours (tokenize --words)", predicted, gold_lines)])
        return
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.dt.tmp_dir = str(BENCH)  # its dictionary cache
    jieba.initialize()
    nbytes = sum(len(line.encode("utf-8")) for line in held)
    rows = []
    for hmm in (True, False):
        start = time.process_time()
        predicted = [list(jieba.cut(line, HMM=hmm)) for line in held]
        seconds = time.process_time() - start
        rows.append(score(f"jieba (HMM={'on' if hmm else 'off'})", predicted, gold_lines, seconds, nbytes))
    emit(rows)


if __name__ == "__main__":
    main()
