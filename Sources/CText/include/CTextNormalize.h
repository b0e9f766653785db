// Unicode normalization (NFC, NFKC, optionally case-folded) of UTF-8 with an alignment
// from every output byte back to the input. Implemented in normalize.c on utf8proc,
// with fast paths driven by the class table's normalization flags (CText.h).
#ifndef CTEXT_NORMALIZE_H
#define CTEXT_NORMALIZE_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// Form bits for ct_normalize: 0 is NFC.
#define CT_NORM_COMPAT 1    // NFKC instead of NFC
#define CT_NORM_CASEFOLD 2  // full case folding (utf8proc's UTF8PROC_CASEFOLD)
#define CT_NORM_IDENTITY 4  // copy the bytes unchanged and unread (the other bits are ignored)

// Error codes (negative; the utf8proc codes plus one of our own).
#define CT_NORM_ERROR_NOMEM (-1)
#define CT_NORM_ERROR_OVERFLOW (-2)
#define CT_NORM_ERROR_INVALID_UTF8 (-3)

/// Reusable state: the output bytes, the alignment and utf8proc's UTF-32 work buffer.
/// Buffers grow geometrically and are kept between calls. Not thread-safe: one per thread.
typedef struct ct_normalizer ct_normalizer;

/// A view of the normalizer's buffers after a successful ct_normalize. Valid until the
/// next ct_normalize or ct_normalizer_destroy on the same normalizer.
typedef struct ct_normalized {
    const uint8_t *bytes;       // `count` normalized bytes
    const intptr_t *alignment;  // `count + 1` input offsets, or NULL if not requested
    size_t count;
    int changed;                // 1 if bytes differ from the input
} ct_normalized;

/// Returns a new normalizer, or NULL if memory is exhausted. Free with ct_normalizer_destroy.
ct_normalizer *ct_normalizer_create(void);
void ct_normalizer_destroy(ct_normalizer *normalizer);

/// Normalizes `length` bytes of UTF-8 to the form given by the CT_NORM_* bits.
///
/// The alignment works at segment granularity: a segment runs from one normalization
/// boundary (a code point for which the table says a boundary falls before it) to the
/// next; every output byte of a segment maps to the input offset where the segment
/// starts, and alignment[count] == length. ASCII bytes not followed by a combining code
/// point are segments of their own and map one to one.
///
/// Returns 0, or a negative CT_NORM_ERROR_* code; for CT_NORM_ERROR_INVALID_UTF8,
/// *error_offset is the offset of the first ill-formed byte. Linear in `length` (a
/// segment's combining marks are ordered by a counting sort, not a bubble sort).
int ct_normalize(ct_normalizer *normalizer, int form, const uint8_t *input, size_t length,
                 int want_alignment, ct_normalized *result, size_t *error_offset);

/// A static English message for a CT_NORM_ERROR_* code.
const char *ct_normalize_error_message(int code);

#ifdef __cplusplus
}
#endif
#endif
