/*
 * textfmt.h - printf-free text: strings and numbers appended to a caller-owned buffer.
 *
 * The firmware writes short lines of text (ERROR frames, the runtime's refusal, test diagnostics) without
 * printf, which would bring newlib's formatter and its heap into the image. Everything goes through a
 * textfmt_t that points at the caller's buffer; text that does not fit is cut off, and the buffer always
 * holds a NUL-terminated string (when its capacity is at least 1). No state of its own, no malloc.
 *
 *   char line[48];
 *   textfmt_t t;
 *   textfmt_init(&t, line, sizeof line);
 *   textfmt_put_str(&t, "type ");
 *   textfmt_put_str(&t, "0x");
 *   textfmt_put_hex(&t, &type, 1);      // "type 0x2a"
 *   textfmt_put_str(&t, " at ");
 *   textfmt_put_i32(&t, -7);            // "type 0x2a at -7"; t.len == 15
 */
#ifndef TEXTFMT_H
#define TEXTFMT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char *buf;  /* the caller's buffer */
    size_t cap; /* its size in bytes, the NUL included */
    size_t len; /* characters written so far (excluding the NUL) */
} textfmt_t;

/* Starts an empty text in `buf` (cap bytes; cap 0 writes nothing, ever). */
void textfmt_init(textfmt_t *t, char *buf, size_t cap);

/* Appends `s` (NULL: nothing), as much of it as fits. */
void textfmt_put_str(textfmt_t *t, const char *s);

/* Appends `v` in decimal, with a '-' when negative. */
void textfmt_put_u32(textfmt_t *t, uint32_t v);
void textfmt_put_i32(textfmt_t *t, int32_t v);
void textfmt_put_u64(textfmt_t *t, uint64_t v);
void textfmt_put_i64(textfmt_t *t, int64_t v);

/* Appends `n` bytes as lower-case hex digits, two per byte, no prefix ("00ff1a"). */
void textfmt_put_hex(textfmt_t *t, const uint8_t *bytes, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* TEXTFMT_H */
