#include "CTextWordBreak.h"

#include <stdlib.h>
#include <unicode/ubrk.h>
#include <unicode/utext.h>
#include <unicode/utypes.h>

struct ct_wordbreak {
    UBreakIterator *iterator;
    // The iterator keeps a shallow clone of this UText, so it must outlive every use.
    UText text;
};

ct_wordbreak *ct_wordbreak_open(const char *locale, int32_t *status) {
    UErrorCode err = U_ZERO_ERROR;
    ct_wordbreak *w = malloc(sizeof *w);
    if (!w) {
        *status = U_MEMORY_ALLOCATION_ERROR;
        return NULL;
    }
    w->text = (UText)UTEXT_INITIALIZER;
    w->iterator = ubrk_open(UBRK_WORD, locale, NULL, 0, &err);
    *status = err;
    if (U_FAILURE(err)) {
        free(w);
        return NULL;
    }
    return w;
}

void ct_wordbreak_close(ct_wordbreak *w) {
    if (!w) return;
    ubrk_close(w->iterator);
    utext_close(&w->text);
    free(w);
}

int64_t ct_wordbreak_boundaries(ct_wordbreak *w, const uint8_t *text, int64_t length,
                                int64_t *boundaries, int32_t *status) {
    UErrorCode err = U_ZERO_ERROR;
    if (length < 0 || length > INT32_MAX) {
        *status = U_INDEX_OUTOFBOUNDS_ERROR;
        return -1;
    }
    // An empty string still needs a valid pointer for utext_openUTF8.
    static const char empty[1] = {0};
    utext_openUTF8(&w->text, length ? (const char *)text : empty, length, &err);
    if (U_SUCCESS(err)) ubrk_setUText(w->iterator, &w->text, &err);
    *status = err;
    if (U_FAILURE(err)) return -1;
    int64_t count = 0;
    // With a UTF-8 UText, the iterator's native indexes are byte offsets.
    for (int32_t b = ubrk_first(w->iterator); b != UBRK_DONE; b = ubrk_next(w->iterator)) {
        boundaries[count++] = b;
    }
    return count;
}

const char *ct_icu_error_name(int32_t status) { return u_errorName((UErrorCode)status); }
