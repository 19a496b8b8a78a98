/* mr_flatbuffer - bounds-checked FlatBuffers reading; see mr_flatbuffer.h. */
#include "mr_flatbuffer.h"

#include <string.h>

/* true when [pos, pos + size) lies inside the buffer (no overflow). */
static bool in_bounds(const mr_fb_t *fb, size_t pos, size_t size)
{
    return pos <= fb->len && size <= fb->len - pos;
}

/* Follow the uoffset stored at `pos` (4 bytes, already in bounds). */
static bool follow(const mr_fb_t *fb, size_t pos, size_t *target)
{
    const uint32_t off = mr_fb_rd32(fb->base + pos);
    if (off == 0u || (uint64_t)off > (uint64_t)(fb->len - pos)) {
        return false;
    }
    *target = pos + (size_t)off;
    return true;
}

bool mr_fb_table_at(const mr_fb_t *fb, size_t pos, mr_fb_table_t *out)
{
    if (!in_bounds(fb, pos, 4u)) {
        return false;
    }
    /* soffset: the vtable is at pos - soffset (either side of the table). */
    const int64_t vtab = (int64_t)pos - (int64_t)mr_fb_u32_to_i32(mr_fb_rd32(fb->base + pos));
    if (vtab < 0 || (uint64_t)vtab > (uint64_t)fb->len || !in_bounds(fb, (size_t)vtab, 4u)) {
        return false;
    }
    const uint16_t vtab_len = mr_fb_rd16(fb->base + (size_t)vtab);
    if (vtab_len < 4u || (vtab_len & 1u) != 0u || !in_bounds(fb, (size_t)vtab, vtab_len)) {
        return false;
    }
    out->pos = pos;
    out->vtab = (size_t)vtab;
    out->vtab_len = vtab_len;
    return true;
}

bool mr_fb_root(const mr_fb_t *fb, mr_fb_table_t *root)
{
    size_t pos;
    if (fb->base == NULL || !in_bounds(fb, 0u, 8u) || !follow(fb, 0u, &pos)) {
        return false;
    }
    return mr_fb_table_at(fb, pos, root);
}

bool mr_fb_field(const mr_fb_t *fb, const mr_fb_table_t *t, unsigned id, size_t size, size_t *pos)
{
    const size_t slot = 4u + 2u * (size_t)id;
    *pos = 0u;
    if (slot + 2u > t->vtab_len) {
        return true; /* vtable too short: field absent (written by an older schema) */
    }
    const uint16_t off = mr_fb_rd16(fb->base + t->vtab + slot);
    if (off == 0u) {
        return true;
    }
    if (!in_bounds(fb, t->pos, (size_t)off) || !in_bounds(fb, t->pos + off, size)) {
        return false;
    }
    *pos = t->pos + off;
    return true;
}

bool mr_fb_u8(const mr_fb_t *fb, const mr_fb_table_t *t, unsigned id, uint8_t def, uint8_t *out)
{
    size_t pos;
    if (!mr_fb_field(fb, t, id, 1u, &pos)) {
        return false;
    }
    *out = pos ? fb->base[pos] : def;
    return true;
}

bool mr_fb_u32(const mr_fb_t *fb, const mr_fb_table_t *t, unsigned id, uint32_t def, uint32_t *out)
{
    size_t pos;
    if (!mr_fb_field(fb, t, id, 4u, &pos)) {
        return false;
    }
    *out = pos ? mr_fb_rd32(fb->base + pos) : def;
    return true;
}

bool mr_fb_i32(const mr_fb_t *fb, const mr_fb_table_t *t, unsigned id, int32_t def, int32_t *out)
{
    uint32_t v;
    if (!mr_fb_u32(fb, t, id, (uint32_t)def, &v)) {
        return false;
    }
    *out = mr_fb_u32_to_i32(v);
    return true;
}

bool mr_fb_u64(const mr_fb_t *fb, const mr_fb_table_t *t, unsigned id, uint64_t def, uint64_t *out)
{
    size_t pos;
    if (!mr_fb_field(fb, t, id, 8u, &pos)) {
        return false;
    }
    *out = pos ? ((uint64_t)mr_fb_rd32(fb->base + pos + 4u) << 32) | mr_fb_rd32(fb->base + pos) : def;
    return true;
}

static float bits_to_f32(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

bool mr_fb_f32(const mr_fb_t *fb, const mr_fb_table_t *t, unsigned id, float def, float *out)
{
    size_t pos;
    if (!mr_fb_field(fb, t, id, 4u, &pos)) {
        return false;
    }
    *out = pos ? bits_to_f32(mr_fb_rd32(fb->base + pos)) : def;
    return true;
}

bool mr_fb_subtable(const mr_fb_t *fb, const mr_fb_table_t *t, unsigned id, mr_fb_table_t *out, bool *present)
{
    size_t pos;
    size_t target;
    *present = false;
    if (!mr_fb_field(fb, t, id, 4u, &pos)) {
        return false;
    }
    if (pos == 0u) {
        return true;
    }
    if (!follow(fb, pos, &target) || !mr_fb_table_at(fb, target, out)) {
        return false;
    }
    *present = true;
    return true;
}

bool mr_fb_vector(const mr_fb_t *fb, const mr_fb_table_t *t, unsigned id, size_t elem_size, mr_fb_vec_t *out)
{
    size_t pos;
    size_t target;
    out->pos = 0u;
    out->count = 0u;
    if (!mr_fb_field(fb, t, id, 4u, &pos)) {
        return false;
    }
    if (pos == 0u) {
        return true;
    }
    if (!follow(fb, pos, &target) || !in_bounds(fb, target, 4u)) {
        return false;
    }
    const uint32_t count = mr_fb_rd32(fb->base + target);
    if ((uint64_t)count * (uint64_t)elem_size > (uint64_t)(fb->len - target - 4u)) {
        return false;
    }
    out->pos = target + 4u;
    out->count = count;
    return true;
}

bool mr_fb_vec_table(const mr_fb_t *fb, const mr_fb_vec_t *v, uint32_t i, mr_fb_table_t *out)
{
    size_t target;
    if (i >= v->count) {
        return false;
    }
    return follow(fb, v->pos + (size_t)i * 4u, &target) && mr_fb_table_at(fb, target, out);
}

float mr_fb_vec_f32(const mr_fb_t *fb, const mr_fb_vec_t *v, uint32_t i)
{
    return bits_to_f32(mr_fb_vec_u32(fb, v, i));
}

int64_t mr_fb_vec_i64(const mr_fb_t *fb, const mr_fb_vec_t *v, uint32_t i)
{
    const uint8_t *p = fb->base + v->pos + (size_t)i * 8u;
    const uint64_t u = ((uint64_t)mr_fb_rd32(p + 4) << 32) | mr_fb_rd32(p);
    return u <= 0x7FFFFFFFFFFFFFFFull ? (int64_t)u : (int64_t)(u - 0x8000000000000000ull) - INT64_MAX - 1;
}
