// Word boundaries of UTF-8 text from ICU's word break iterator (dictionary-based for
// Chinese, Japanese, Thai, ...). Implemented in wordbreak.c.
#ifndef CTEXT_WORDBREAK_H
#define CTEXT_WORDBREAK_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An ICU word break iterator, opened once and reused for many texts. Not thread-safe.
typedef struct ct_wordbreak ct_wordbreak;

/// Opens a word break iterator for `locale` (e.g. "zh"). Returns NULL and sets *status
/// to the ICU UErrorCode (> 0) on failure; *status may also be a warning (< 0) on success.
ct_wordbreak *ct_wordbreak_open(const char *locale, int32_t *status);
void ct_wordbreak_close(ct_wordbreak *wordbreak);

/// Writes the word boundaries of `length` bytes of UTF-8 as byte offsets, in increasing
/// order, starting with 0 and ending with `length`, to `boundaries`, which must hold
/// `length + 1` entries (the most there can be). Returns the number written, or -1 with
/// the ICU UErrorCode in *status. `length` must be below 2^31: ICU's break iterator
/// reports positions as int32_t. Reading the text does not convert it to UTF-16.
int64_t ct_wordbreak_boundaries(ct_wordbreak *wordbreak, const uint8_t *text, int64_t length,
                                int64_t *boundaries, int32_t *status);

/// ICU's name for a UErrorCode, e.g. "U_MISSING_RESOURCE_ERROR" (static storage).
const char *ct_icu_error_name(int32_t status);

#ifdef __cplusplus
}
#endif
#endif
