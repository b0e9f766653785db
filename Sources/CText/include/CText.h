// CText: the only code in the package that includes ICU or utf8proc headers.
//
// Swift cannot import Debian's ICU next to Foundation (Foundation carries its own ICU
// with the same C type names), and Debian renames ICU's entry points per version
// (`ubrk_open` -> `ubrk_open_72`). This header therefore uses stdint types only, and the
// .c files call ICU by its normal names through the preprocessor's renaming.
#ifndef CTEXT_H
#define CTEXT_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- Character classes -------------------------------------------------------------
// One byte per code point: the low 4 bits are a class, the high bits are flags.
enum {
    CT_CLASS_OTHER = 0,    // controls, format characters, unassigned, private use
    CT_CLASS_LETTER = 1,   // letters of alphabetic scripts (Latin, Cyrillic, Greek, ...)
    CT_CLASS_HAN = 2,      // Han ideographs (script Han), including 〇 and CJK compatibility
    CT_CLASS_KANA = 3,     // Hiragana, Katakana
    CT_CLASS_HANGUL = 4,   // Hangul syllables and jamo
    CT_CLASS_DIGIT = 5,    // numbers: Nd, Nl, No outside Han
    CT_CLASS_MARK = 6,     // combining marks (Mn, Mc, Me): they extend what precedes
    CT_CLASS_SPACE = 7,    // White_Space other than line breaks
    CT_CLASS_NEWLINE = 8,  // \n, \r, U+0085, U+2028, U+2029, \v, \f
    CT_CLASS_PUNCT = 9,    // punctuation and symbols that are not emoji
    CT_CLASS_EMOJI = 10,   // Extended_Pictographic, Regional_Indicator
    CT_CLASS_EMOJI_MOD = 11, // skin-tone modifiers and tag characters (extend an emoji)
    CT_CLASS_ZWJ = 12,     // U+200D ZERO WIDTH JOINER
    CT_CLASS_APOSTROPHE = 13, // ' and ’ (English contractions)
};
#define CT_CLASS_MASK 0x0F
// Normalization flags: "NFC/NFKC quick check is not YES" and "a normalization boundary
// does not necessarily fall before this code point".
#define CT_FLAG_NFC_CHANGES 0x10
#define CT_FLAG_NFKC_CHANGES 0x20
#define CT_FLAG_NFC_NO_BOUNDARY 0x40
#define CT_FLAG_NFKC_NO_BOUNDARY 0x80

// Code points below this limit (the Basic Multilingual Plane) are in the table that
// ct_class_table returns; others go through ct_class_of.
#define CT_TABLE_LIMIT 0x10000
// Planes 0 to CT_PLANES - 1 are tabulated, each filled on first need.
#define CT_PLANES 4

/// The class table for U+0000..U+FFFF, built once (thread-safe) from ICU properties.
const uint8_t *ct_class_table(void);
/// Class and flags of any code point (the same value the table holds below the limit),
/// filling its plane of the table first if needed.
uint8_t ct_class_of_slow(uint32_t cp);

// The tabulated planes and whether each is filled (set with release order once it is).
extern uint8_t ct_planes_table[CT_PLANES << 16];
extern uint8_t ct_plane_filled[CT_PLANES];

/// ct_class_of_slow without the call once the code point's plane is filled: an inline table
/// read for the hot loops that meet emoji or rare Han on every line.
static inline uint8_t ct_class_of(uint32_t cp) {
    if (cp < (CT_PLANES << 16) && __atomic_load_n(&ct_plane_filled[cp >> 16], __ATOMIC_ACQUIRE))
        return ct_planes_table[cp];
    return ct_class_of_slow(cp);
}

// ---- Versions ----------------------------------------------------------------------
/// ICU's version as "72.1" and its Unicode version as "15.0" (buffers of >= 16 bytes).
void ct_icu_version(char *out, size_t cap);
void ct_icu_unicode_version(char *out, size_t cap);
const char *ct_utf8proc_version(void);
const char *ct_utf8proc_unicode_version(void);

#ifdef __cplusplus
}
#endif
#endif
