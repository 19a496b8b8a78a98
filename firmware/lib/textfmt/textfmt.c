/* textfmt.c - see textfmt.h. */
#include "textfmt.h"

static void put_char(textfmt_t *t, char c)
{
    if (t->len + 1u < t->cap) {
        t->buf[t->len++] = c;
        t->buf[t->len] = '\0';
    }
}

void textfmt_init(textfmt_t *t, char *buf, size_t cap)
{
    t->buf = buf;
    t->cap = cap;
    t->len = 0u;
    if (cap > 0u) {
        buf[0] = '\0';
    }
}

void textfmt_put_str(textfmt_t *t, const char *s)
{
    while (s != NULL && *s != '\0' && t->len + 1u < t->cap) {
        put_char(t, *s++);
    }
}

/* Appends the n digits of `digits`, which hold them least significant first. */
static void put_reversed(textfmt_t *t, const char *digits, size_t n)
{
    while (n > 0u) {
        put_char(t, digits[--n]);
    }
}

void textfmt_put_u32(textfmt_t *t, uint32_t v)
{
    char digits[10]; /* 2^32 - 1 has 10 */
    size_t n = 0u;
    do {
        digits[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    put_reversed(t, digits, n);
}

void textfmt_put_i32(textfmt_t *t, int32_t v)
{
    if (v < 0) {
        put_char(t, '-');
    }
    textfmt_put_u32(t, v < 0 ? 0u - (uint32_t)v : (uint32_t)v);
}

/* Separate from the 32-bit version so that a build using only that one links no 64-bit division. */
void textfmt_put_u64(textfmt_t *t, uint64_t v)
{
    char digits[20]; /* 2^64 - 1 has 20 */
    size_t n = 0u;
    do {
        digits[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    put_reversed(t, digits, n);
}

void textfmt_put_i64(textfmt_t *t, int64_t v)
{
    if (v < 0) {
        put_char(t, '-');
    }
    textfmt_put_u64(t, v < 0 ? 0u - (uint64_t)v : (uint64_t)v);
}

void textfmt_put_hex(textfmt_t *t, const uint8_t *bytes, size_t n)
{
    static const char DIGITS[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        put_char(t, DIGITS[bytes[i] >> 4]);
        put_char(t, DIGITS[bytes[i] & 0xFu]);
    }
}
