/*
 * mr_flatbuffer - bounds-checked reading of a FlatBuffers binary (private to
 * micro_runtime).
 *
 * Every read checks its bytes against the buffer length first; scalars are
 * decoded little-endian byte by byte, so the buffer needs no alignment. Each
 * function returns false when the buffer is malformed (an offset or length
 * points outside it) and leaves no partial result the caller would trust.
 */
#ifndef MR_FLATBUFFER_H
#define MR_FLATBUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *base;
    size_t len;
} mr_fb_t;

/* A table: its position and its vtable's. */
typedef struct {
    size_t pos;
    size_t vtab;
    uint16_t vtab_len;
} mr_fb_table_t;

/* A vector: position of its first element and its element count. */
typedef struct {
    size_t pos;
    uint32_t count;
} mr_fb_vec_t;

/* Little-endian scalar decoding at an already-checked position. */
static inline uint16_t mr_fb_rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | ((uint16_t)p[1] << 8));
}
static inline uint32_t mr_fb_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline int32_t mr_fb_u32_to_i32(uint32_t v)
{
    return v <= 0x7FFFFFFFu ? (int32_t)v : (int32_t)(v - 0x80000000u) - 0x7FFFFFFF - 1;
}

bool mr_fb_root(const mr_fb_t *fb, mr_fb_table_t *root);
bool mr_fb_table_at(const mr_fb_t *fb, size_t pos, mr_fb_table_t *out);

/* Position of field `id` holding `size` bytes; *pos = 0 when the field is absent. */
bool mr_fb_field(const mr_fb_t *fb, const mr_fb_table_t *t, unsigned id, size_t size, size_t *pos);

/* Scalar fields, `def` when absent. */
bool mr_fb_u8(const mr_fb_t *fb, const mr_fb_table_t *t, unsigned id, uint8_t def, uint8_t *out);
bool mr_fb_i32(const mr_fb_t *fb, const mr_fb_table_t *t, unsigned id, int32_t def, int32_t *out);
bool mr_fb_u32(const mr_fb_t *fb, const mr_fb_table_t *t, unsigned id, uint32_t def, uint32_t *out);
bool mr_fb_u64(const mr_fb_t *fb, const mr_fb_table_t *t, unsigned id, uint64_t def, uint64_t *out);
bool mr_fb_f32(const mr_fb_t *fb, const mr_fb_table_t *t, unsigned id, float def, float *out);

/* Sub-table field; *present = false (and true returned) when absent. */
bool mr_fb_subtable(const mr_fb_t *fb, const mr_fb_table_t *t, unsigned id, mr_fb_table_t *out, bool *present);

/* Vector field of elements of `elem_size` bytes; count 0 when absent. */
bool mr_fb_vector(const mr_fb_t *fb, const mr_fb_table_t *t, unsigned id, size_t elem_size, mr_fb_vec_t *out);

/* Element i (< count, checked) of a vector of tables. */
bool mr_fb_vec_table(const mr_fb_t *fb, const mr_fb_vec_t *v, uint32_t i, mr_fb_table_t *out);

/* Element i of a vector whose bounds mr_fb_vector() checked (i < count is the caller's job). */
static inline uint32_t mr_fb_vec_u32(const mr_fb_t *fb, const mr_fb_vec_t *v, uint32_t i)
{
    return mr_fb_rd32(fb->base + v->pos + (size_t)i * 4u);
}
static inline int32_t mr_fb_vec_i32(const mr_fb_t *fb, const mr_fb_vec_t *v, uint32_t i)
{
    return mr_fb_u32_to_i32(mr_fb_vec_u32(fb, v, i));
}
float mr_fb_vec_f32(const mr_fb_t *fb, const mr_fb_vec_t *v, uint32_t i);
int64_t mr_fb_vec_i64(const mr_fb_t *fb, const mr_fb_vec_t *v, uint32_t i);

#endif /* MR_FLATBUFFER_H */
