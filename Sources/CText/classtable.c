#include "CText.h"

#include <pthread.h>
#include <stdio.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/uversion.h>
#include <utf8proc.h>

// Planes 0-3 (U+0000..U+3FFFF): plane 0 is filled on first use of the table, each of planes
// 1-3 (emoji, historic scripts, rare Han) on the first lookup of one of its code points.
// Filling all four at once cost `classify` 16 ms of its start-up (median of 12 runs).
uint8_t ct_planes_table[CT_PLANES << 16];
uint8_t ct_plane_filled[CT_PLANES];
static pthread_once_t plane_once[CT_PLANES] = {
    PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT};
static pthread_once_t normalizers_once = PTHREAD_ONCE_INIT;
static const UNormalizer2 *nfc, *nfkc;

static uint8_t base_class(UChar32 c) {
    switch (c) {
    case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x85: case 0x2028: case 0x2029:
        return CT_CLASS_NEWLINE;
    case 0x200D: return CT_CLASS_ZWJ;
    case 0x27: case 0x2019: return CT_CLASS_APOSTROPHE;
    }
    if (u_hasBinaryProperty(c, UCHAR_WHITE_SPACE)) return CT_CLASS_SPACE;
    if (u_hasBinaryProperty(c, UCHAR_EMOJI_MODIFIER)) return CT_CLASS_EMOJI_MOD;
    if (c >= 0xE0020 && c <= 0xE007F) return CT_CLASS_EMOJI_MOD;  // emoji tag sequences
    if (u_hasBinaryProperty(c, UCHAR_REGIONAL_INDICATOR)) return CT_CLASS_EMOJI;
    // Extended_Pictographic also covers (c) and (R): they behave as emoji in practice.
    if (u_hasBinaryProperty(c, UCHAR_EXTENDED_PICTOGRAPHIC)) return CT_CLASS_EMOJI;

    UErrorCode err = U_ZERO_ERROR;
    UScriptCode script = uscript_getScript(c, &err);
    int8_t type = u_charType(c);
    switch (type) {
    case U_NON_SPACING_MARK: case U_ENCLOSING_MARK: case U_COMBINING_SPACING_MARK:
        return CT_CLASS_MARK;
    case U_DECIMAL_DIGIT_NUMBER: case U_LETTER_NUMBER: case U_OTHER_NUMBER:
        // 〇 and the Suzhou numerals are script Han: they belong in Han runs.
        return script == USCRIPT_HAN ? CT_CLASS_HAN : CT_CLASS_DIGIT;
    case U_UPPERCASE_LETTER: case U_LOWERCASE_LETTER: case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER: case U_OTHER_LETTER:
        if (script == USCRIPT_HAN) return CT_CLASS_HAN;
        if (script == USCRIPT_HIRAGANA || script == USCRIPT_KATAKANA ||
            script == USCRIPT_KATAKANA_OR_HIRAGANA) return CT_CLASS_KANA;
        if (script == USCRIPT_HANGUL) return CT_CLASS_HANGUL;
        return CT_CLASS_LETTER;
    case U_DASH_PUNCTUATION: case U_START_PUNCTUATION: case U_END_PUNCTUATION:
    case U_CONNECTOR_PUNCTUATION: case U_OTHER_PUNCTUATION: case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION: case U_MATH_SYMBOL: case U_CURRENCY_SYMBOL:
    case U_MODIFIER_SYMBOL: case U_OTHER_SYMBOL:
        return CT_CLASS_PUNCT;
    default:
        return CT_CLASS_OTHER;
    }
}

static uint8_t full_class(UChar32 c) {
    uint8_t v = base_class(c);
    if (u_getIntPropertyValue(c, UCHAR_NFC_QUICK_CHECK) != UNORM_YES) v |= CT_FLAG_NFC_CHANGES;
    if (u_getIntPropertyValue(c, UCHAR_NFKC_QUICK_CHECK) != UNORM_YES) v |= CT_FLAG_NFKC_CHANGES;
    if (!unorm2_hasBoundaryBefore(nfc, c)) v |= CT_FLAG_NFC_NO_BOUNDARY;
    if (!unorm2_hasBoundaryBefore(nfkc, c)) v |= CT_FLAG_NFKC_NO_BOUNDARY;
    return v;
}

static void get_normalizers(void) {
    UErrorCode err = U_ZERO_ERROR;
    nfc = unorm2_getNFCInstance(&err);
    err = U_ZERO_ERROR;
    nfkc = unorm2_getNFKCInstance(&err);
}

static void build_plane(UChar32 first) {
    pthread_once(&normalizers_once, get_normalizers);
    for (UChar32 c = first; c < first + 0x10000; c++) {
        // Surrogates never occur in valid UTF-8; leave them OTHER.
        ct_planes_table[c] = (c >= 0xD800 && c <= 0xDFFF) ? CT_CLASS_OTHER : full_class(c);
    }
    __atomic_store_n(&ct_plane_filled[first >> 16], 1, __ATOMIC_RELEASE);
}

static void build_plane0(void) { build_plane(0x00000); }
static void build_plane1(void) { build_plane(0x10000); }
static void build_plane2(void) { build_plane(0x20000); }
static void build_plane3(void) { build_plane(0x30000); }
static void (*const build[CT_PLANES])(void) = {build_plane0, build_plane1, build_plane2, build_plane3};

const uint8_t *ct_class_table(void) {
    pthread_once(&plane_once[0], build_plane0);
    return ct_planes_table;
}

uint8_t ct_class_of_slow(uint32_t cp) {
    if (cp < (CT_PLANES << 16)) {
        pthread_once(&plane_once[cp >> 16], build[cp >> 16]);
        return ct_planes_table[cp];
    }
    pthread_once(&normalizers_once, get_normalizers);
    if (cp > 0x10FFFF) return CT_CLASS_OTHER;
    return full_class((UChar32)cp);
}

void ct_icu_version(char *out, size_t cap) {
    UVersionInfo v;
    u_getVersion(v);
    snprintf(out, cap, "%d.%d", v[0], v[1]);
}

void ct_icu_unicode_version(char *out, size_t cap) {
    UVersionInfo v;
    u_getUnicodeVersion(v);
    snprintf(out, cap, "%d.%d", v[0], v[1]);
}

const char *ct_utf8proc_version(void) { return utf8proc_version(); }
const char *ct_utf8proc_unicode_version(void) { return utf8proc_unicode_version(); }
