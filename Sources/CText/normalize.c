#include "CTextNormalize.h"
#include "CText.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

struct ct_normalizer {
    uint8_t *out;        // normalized bytes, capacity `cap`
    intptr_t *align;     // alignment, capacity `cap + 1`
    size_t cap, len;
    int32_t *work;       // UTF-32 of the segment being normalized, then its UTF-8
    size_t work_cap;
    int32_t *scratch;    // counting-sort destination for long runs of combining marks
    size_t scratch_cap;
    const uint8_t *table;
};

ct_normalizer *ct_normalizer_create(void) {
    ct_normalizer *n = calloc(1, sizeof *n);
    if (n) n->table = ct_class_table();
    return n;
}

void ct_normalizer_destroy(ct_normalizer *n) {
    if (!n) return;
    free(n->out);
    free(n->align);
    free(n->work);
    free(n->scratch);
    free(n);
}

const char *ct_normalize_error_message(int code) {
    if (code == CT_NORM_ERROR_INVALID_UTF8) return "Invalid UTF-8 input";
    return utf8proc_errmsg(code);
}

// Geometric growth: `need` elements at least, and never less than double.
static size_t grown(size_t cap, size_t need) {
    size_t c = cap ? cap * 2 : 256;
    return c < need ? need : c;
}

static int reserve_out(ct_normalizer *n, size_t need) {
    if (need <= n->cap) return 0;
    size_t c = grown(n->cap, need);
    uint8_t *o = realloc(n->out, c);
    if (!o) return CT_NORM_ERROR_NOMEM;
    n->out = o;
    intptr_t *a = realloc(n->align, (c + 1) * sizeof *a);
    if (!a) return CT_NORM_ERROR_NOMEM;
    n->align = a;
    n->cap = c;
    return 0;
}

static int reserve_i32(int32_t **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t c = grown(*cap, need);
    int32_t *b = realloc(*buf, c * sizeof *b);
    if (!b) return CT_NORM_ERROR_NOMEM;
    *buf = b;
    *cap = c;
    return 0;
}

// Length (1-4) of the well-formed UTF-8 sequence at p (Unicode table 3-7), or 0.
static inline int decode(const uint8_t *p, size_t avail, uint32_t *cp) {
    uint8_t b0 = p[0];
    if (b0 < 0x80) { *cp = b0; return 1; }
    if (b0 < 0xC2) return 0;
    if (b0 < 0xE0) {
        if (avail < 2 || (p[1] & 0xC0) != 0x80) return 0;
        *cp = ((uint32_t)(b0 & 0x1F) << 6) | (p[1] & 0x3F);
        return 2;
    }
    if (b0 < 0xF0) {
        if (avail < 3) return 0;
        uint8_t lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80) return 0;
        *cp = ((uint32_t)(b0 & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
        return 3;
    }
    if (b0 < 0xF5) {
        if (avail < 4) return 0;
        uint8_t lo = b0 == 0xF0 ? 0x90 : 0x80, hi = b0 == 0xF4 ? 0x8F : 0xBF;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        *cp = ((uint32_t)(b0 & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
              ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
        return 4;
    }
    return 0;
}

static inline uint8_t ccc_of(int32_t cp) {
    return (uint8_t)utf8proc_get_property(cp)->combining_class;
}

// Stable sort of one run of non-starters by combining class (the canonical ordering
// algorithm). utf8proc_decompose orders with a bubble sort, quadratic in the run length;
// a run of 10,000 marks in reverse order would cost ~5e7 swaps, so long runs are
// counting-sorted instead.
static int order_run(ct_normalizer *n, int32_t *run, size_t count) {
    if (count <= 32) {
        for (size_t i = 1; i < count; i++) {
            int32_t cp = run[i];
            uint8_t c = ccc_of(cp);
            size_t j = i;
            while (j > 0 && ccc_of(run[j - 1]) > c) { run[j] = run[j - 1]; j--; }
            run[j] = cp;
        }
        return 0;
    }
    if (reserve_i32(&n->scratch, &n->scratch_cap, count)) return CT_NORM_ERROR_NOMEM;
    size_t start[256] = {0};
    for (size_t i = 0; i < count; i++) start[ccc_of(run[i])]++;
    size_t sum = 0;
    for (int c = 0; c < 256; c++) { size_t k = start[c]; start[c] = sum; sum += k; }
    for (size_t i = 0; i < count; i++) n->scratch[start[ccc_of(run[i])]++] = run[i];
    memcpy(run, n->scratch, count * sizeof *run);
    return 0;
}

static int canonical_order(ct_normalizer *n, size_t count) {
    int32_t *b = n->work;
    size_t i = 0;
    while (i < count) {
        uint8_t prev = ccc_of(b[i]);
        if (prev == 0) { i++; continue; }
        size_t j = i + 1;
        int sorted = 1;
        for (; j < count; j++) {
            uint8_t c = ccc_of(b[j]);
            if (c == 0) break;
            if (c < prev) sorted = 0;
            prev = c;
        }
        if (!sorted) {
            int err = order_run(n, b + i, j - i);
            if (err) return err;
        }
        i = j;
    }
    return 0;
}

static void fill_align(ct_normalizer *n, size_t count, intptr_t origin) {
    intptr_t *a = n->align + n->len;
    for (size_t t = 0; t < count; t++) a[t] = origin;
}

// Appends input bytes [from, to), which need no normalization, to the output, whose
// capacity the caller has reserved; lower-cases ASCII when folding (bytes >= 0x80 of
// multi-byte sequences are never in 'A'..'Z'). Alignment is the caller's job.
static void emit_clean(ct_normalizer *n, const uint8_t *in, size_t from, size_t to,
                       int fold, int *changed) {
    size_t k = to - from;
    if (k == 0) return;  // `in` may be NULL for empty input
    uint8_t *o = n->out + n->len;
    if (fold) {
        for (size_t t = 0; t < k; t++) {
            uint8_t c = in[from + t];
            if ((uint8_t)(c - 'A') < 26) { c += 32; *changed = 1; }
            o[t] = c;
        }
    } else {
        memcpy(o, in + from, k);
    }
    n->len += k;
}

static int normalize_segment(ct_normalizer *n, const uint8_t *in, size_t from, size_t to,
                             utf8proc_option_t options, int want_align, int *changed) {
    size_t w = 0;
    int boundclass = UTF8PROC_BOUNDCLASS_START;
    for (size_t p = from; p < to;) {
        uint32_t cp;
        int k = decode(in + p, to - p, &cp);  // validated by the caller
        // 32 covers the longest full decomposition (U+FDFA, 18 code points) at once.
        if (reserve_i32(&n->work, &n->work_cap, w + 32)) return CT_NORM_ERROR_NOMEM;
        utf8proc_ssize_t r = utf8proc_decompose_char((utf8proc_int32_t)cp, n->work + w,
                                                     (utf8proc_ssize_t)(n->work_cap - w),
                                                     options, &boundclass);
        if (r < 0) return (int)r;
        if ((size_t)r > n->work_cap - w) {
            if (reserve_i32(&n->work, &n->work_cap, w + (size_t)r)) return CT_NORM_ERROR_NOMEM;
            continue;  // decompose this code point again into the larger buffer
        }
        w += (size_t)r;
        p += (size_t)k;
    }
    int err = canonical_order(n, w);
    if (err) return err;
    // utf8proc_reencode composes in place, then writes UTF-8 (at most 4 bytes per code
    // point) plus a NUL over the same buffer: w + 1 int32s always hold it.
    if (reserve_i32(&n->work, &n->work_cap, w + 1)) return CT_NORM_ERROR_NOMEM;
    utf8proc_ssize_t bytes = utf8proc_reencode(n->work, (utf8proc_ssize_t)w, options);
    if (bytes < 0) return (int)bytes;
    size_t k = (size_t)bytes;
    err = reserve_out(n, n->len + k);
    if (err) return err;
    memcpy(n->out + n->len, n->work, k);
    if (k != to - from || memcmp(n->work, in + from, k) != 0) *changed = 1;
    if (want_align) fill_align(n, k, (intptr_t)from);
    n->len += k;
    return 0;
}

// Han, Kana and Hangul have no case mappings (the every-code-point test against utf8proc
// checks this), so folding Chinese text needs no property lookup per character.
static inline int caseless(uint8_t flags) {
    uint8_t c = flags & CT_CLASS_MASK;
    return c == CT_CLASS_HAN || c == CT_CLASS_KANA || c == CT_CLASS_HANGUL;
}

int ct_normalize(ct_normalizer *n, int form, const uint8_t *in, size_t length,
                 int want_align, ct_normalized *result, size_t *error_offset) {
    const int fold = (form & CT_NORM_CASEFOLD) != 0;
    const int compat = (form & CT_NORM_COMPAT) != 0;
    const uint8_t may_change = compat ? CT_FLAG_NFKC_CHANGES : CT_FLAG_NFC_CHANGES;
    const uint8_t no_boundary = compat ? CT_FLAG_NFKC_NO_BOUNDARY : CT_FLAG_NFC_NO_BOUNDARY;
    const utf8proc_option_t options = UTF8PROC_STABLE | UTF8PROC_COMPOSE |
        (compat ? UTF8PROC_COMPAT : 0) | (fold ? UTF8PROC_CASEFOLD : 0);
    const uint8_t *table = n->table;

    n->len = 0;
    int changed = 0, err = 0;
    // Clean input is copied 1:1, so `length` bytes (+1 alignment entry for the end) hold
    // everything until a segment goes through utf8proc, after which this is redone.
    if ((err = reserve_out(n, length + 1))) return err;
    if (form & CT_NORM_IDENTITY) {
        emit_clean(n, in, 0, length, 0, &changed);
        if (want_align) for (size_t q = 0; q <= length; q++) n->align[q] = (intptr_t)q;
        result->bytes = n->out;
        result->alignment = want_align ? n->align : NULL;
        result->count = n->len;
        result->changed = 0;
        return 0;
    }
    // Clean segments are not copied one by one: input [done, seg) is copied in one go
    // when a segment needs utf8proc, or at the end. Its output position is the input
    // position + shift, which is where its alignment entries are written right away.
    size_t done = 0;
    intptr_t shift = 0;
    // The open segment is [seg, i); it closes when the next boundary is seen.
    size_t seg = 0, i = 0;
    int open = 0, slow = 0;
    uint8_t last_ccc = 0;

#define CLOSE_SEGMENT()                                                                 \
    do {                                                                                \
        if (!open) break;                                                               \
        if (slow) {                                                                     \
            emit_clean(n, in, done, seg, fold, &changed);                               \
            if ((err = normalize_segment(n, in, seg, i, options, want_align, &changed))) \
                return err;                                                             \
            done = i;                                                                   \
            shift = (intptr_t)n->len - (intptr_t)done;                                  \
            if ((err = reserve_out(n, n->len + (length - i) + 1))) return err;          \
        } else if (want_align) {                                                        \
            for (size_t q = seg; q < i; q++) n->align[(intptr_t)q + shift] = (intptr_t)seg; \
        }                                                                               \
    } while (0)

    while (i < length) {
        if (in[i] < 0x80) {
            // Every ASCII character has a boundary before it and is quick-check YES.
            CLOSE_SEGMENT();
            size_t j = i + 1;
            while (j < length && in[j] < 0x80) j++;
            // Each byte but the last is a segment; the last may take combining marks.
            if (want_align) {
                for (size_t q = i; q + 1 < j; q++) n->align[(intptr_t)q + shift] = (intptr_t)q;
            }
            seg = j - 1; open = 1; slow = 0; last_ccc = 0;
            i = j;
            continue;
        }
        uint32_t cp;
        int k = decode(in + i, length - i, &cp);
        if (k == 0) {
            if (error_offset) *error_offset = i;
            return CT_NORM_ERROR_INVALID_UTF8;
        }
        uint8_t flags = cp < CT_TABLE_LIMIT ? table[cp] : ct_class_of(cp);
        if (!open || !(flags & no_boundary)) {
            CLOSE_SEGMENT();
            seg = i; open = 1; slow = 0; last_ccc = 0;
        }
        if (flags & may_change) {
            slow = 1;
        } else if ((fold && !caseless(flags)) || (flags & no_boundary)) {
            const utf8proc_property_t *prop = utf8proc_get_property((utf8proc_int32_t)cp);
            if (fold && prop->casefold_seqindex != UINT16_MAX) slow = 1;
            // Quick check YES on every code point is not enough: the combining marks
            // must also be in canonical order.
            uint8_t c = (uint8_t)prop->combining_class;
            if (c != 0 && c < last_ccc) slow = 1;
            last_ccc = c;
        } else {
            last_ccc = 0;
        }
        i += (size_t)k;
    }
    CLOSE_SEGMENT();
#undef CLOSE_SEGMENT
    emit_clean(n, in, done, length, fold, &changed);

    if (want_align) n->align[n->len] = (intptr_t)length;
    result->bytes = n->out;
    result->alignment = want_align ? n->align : NULL;
    result->count = n->len;
    result->changed = changed;
    return 0;
}
