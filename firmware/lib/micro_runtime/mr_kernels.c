/*
 * mr_kernels - int8 kernels with TFLite Micro's reference arithmetic; see
 * mr_kernels.h and docs/micro_runtime.md.
 *
 * Accumulators are uint32_t: the reference accumulates in int32 and the sum is
 * the same modulo 2^32, so folding "input_offset * sum(weights)" into the bias
 * (done once in mr_init) gives bit-identical results with one multiply-add per
 * weight in the inner loops. Dot products are int32 over at most 65536 terms
 * (checked in mr_init), so they cannot overflow.
 */
#include "mr_kernels.h"

#include <string.h>

#include "mr_fixedpoint.h"

/*
 * Dot products. On Cortex-M4/M7 (ACLE __ARM_FEATURE_DSP) four int8 pairs take
 * one 32-bit load per operand, SXTB16 (bytes 0 and 2, then bytes 1 and 3 after
 * a rotation by 8) and two SMLAD, each adding two 16x16 products. Define
 * MR_EMULATE_DSP to run the same code with C stand-ins for those instructions
 * (host tests); other targets use plain C. All give the same exact sums.
 */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && !defined(MR_NO_DSP)
#include <arm_acle.h>
#define MR_DSP 1
static inline uint32_t sx_even(uint32_t v)
{
    return (uint32_t)__sxtb16((int32_t)v);
}
static inline uint32_t sx_odd(uint32_t v)
{
#if defined(__GNUC__)
    uint32_t r; /* GCC does not fold the rotation into SXTB16 by itself */
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
#else
    return (uint32_t)__sxtb16((int32_t)((v >> 8) | (v << 24)));
#endif
}
static inline int32_t smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlad((int32_t)a, (int32_t)b, acc);
}
#elif defined(MR_EMULATE_DSP)
#define MR_DSP 1
static inline uint32_t sext8(uint32_t b)
{
    return ((b & 0xFFu) ^ 0x80u) - 0x80u; /* as uint32 two's complement */
}
static inline uint32_t sx_even(uint32_t v)
{
    return (sext8(v) & 0xFFFFu) | (sext8(v >> 16) << 16);
}
static inline uint32_t sx_odd(uint32_t v)
{
    return sx_even((v >> 8) | (v << 24));
}
static inline int32_t sext16(uint32_t h)
{
    return (int32_t)((h & 0xFFFFu) ^ 0x8000u) - 0x8000;
}
static inline int32_t smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return acc + sext16(a) * sext16(b) + sext16(a >> 16) * sext16(b >> 16);
}
#else
#define MR_DSP 0
#endif

#if MR_DSP
static inline uint32_t load32(const int8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v); /* unaligned LDR on the M4 */
    return v;
}
#endif

/* sum(w0[i] * x[i]) and sum(w1[i] * x[i]), n <= 65536: two output channels per pass over x. */
static inline void dot2_s8(const int8_t *x, const int8_t *w0, const int8_t *w1, int32_t n, int32_t *out0, int32_t *out1)
{
    int32_t a0 = 0;
    int32_t a1 = 0;
#if MR_DSP
    for (; n >= 4; n -= 4, x += 4, w0 += 4, w1 += 4) {
        const uint32_t xv = load32(x);
        const uint32_t xe = sx_even(xv);
        const uint32_t xo = sx_odd(xv);
        const uint32_t v0 = load32(w0);
        const uint32_t v1 = load32(w1);
        a0 = smlad(sx_even(v0), xe, a0);
        a0 = smlad(sx_odd(v0), xo, a0);
        a1 = smlad(sx_even(v1), xe, a1);
        a1 = smlad(sx_odd(v1), xo, a1);
    }
#else
    for (; n >= 2; n -= 2, x += 2, w0 += 2, w1 += 2) {
        const int32_t x0 = x[0];
        const int32_t x1 = x[1];
        a0 += w0[0] * x0 + w0[1] * x1;
        a1 += w1[0] * x0 + w1[1] * x1;
    }
#endif
    for (; n > 0; --n) {
        const int32_t xv = *x++;
        a0 += *w0++ * xv;
        a1 += *w1++ * xv;
    }
    *out0 = a0;
    *out1 = a1;
}

/* sum(a[i] * b[i]), n <= 65536. */
static inline int32_t dot_s8(const int8_t *a, const int8_t *b, int32_t n)
{
    int32_t acc = 0;
#if MR_DSP
    for (; n >= 4; n -= 4, a += 4, b += 4) {
        const uint32_t va = load32(a);
        const uint32_t vb = load32(b);
        acc = smlad(sx_even(va), sx_even(vb), acc);
        acc = smlad(sx_odd(va), sx_odd(vb), acc);
    }
#endif
    for (; n > 0; --n) {
        acc += *a++ * *b++;
    }
    return acc;
}

static inline int32_t clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* MultiplyByQuantizedMultiplier, add the output zero point, clamp to the activation range. */
static inline int8_t requantize(uint32_t acc, const mr_requant_t *rq, int32_t channel)
{
    const int32_t i = rq->mult_step ? channel : 0;
    const int32_t scaled = mr_mbqm_pos(mr_wrap_i32(acc), rq->mult[i], rq->shift[i]);
    return (int8_t)clamp(mr_wrap_i32((uint32_t)scaled + (uint32_t)rq->out_zp), rq->act_min, rq->act_max);
}

/* One output position: every channel, two per pass over the window `x`
 * (k_h rows of k_row bytes, rows x_step apart). */
static inline int8_t *conv_position(const mr_conv_t *p, const int8_t *x0, int32_t x_step, int8_t *out)
{
    const int32_t k_row = p->k_w * p->is.c;
    const int32_t k_size = p->k_h * k_row;
    const int8_t *w = p->w;
    int32_t oc = 0;
    for (; oc + 1 < p->os.c; oc += 2, w += 2 * k_size) {
        uint32_t acc0 = (uint32_t)p->bias[oc];
        uint32_t acc1 = (uint32_t)p->bias[oc + 1];
        const int8_t *x = x0;
        for (int32_t fy = 0; fy < p->k_h; ++fy, x += x_step) {
            int32_t s0, s1;
            dot2_s8(x, w + fy * k_row, w + k_size + fy * k_row, k_row, &s0, &s1);
            acc0 += (uint32_t)s0;
            acc1 += (uint32_t)s1;
        }
        *out++ = requantize(acc0, &p->rq, oc);
        *out++ = requantize(acc1, &p->rq, oc + 1);
    }
    if (oc < p->os.c) { /* odd channel count: the last one alone */
        uint32_t acc = (uint32_t)p->bias[oc];
        const int8_t *x = x0;
        for (int32_t fy = 0; fy < p->k_h; ++fy, x += x_step) {
            acc += (uint32_t)dot_s8(w + fy * k_row, x, k_row);
        }
        *out++ = requantize(acc, &p->rq, oc);
    }
    return out;
}

void mr_kernel_conv(const mr_conv_t *params)
{
    /* A local copy: int8_t stores may alias anything, so reading the fields
     * through the pointer would reload them after every output byte. */
    const mr_conv_t q = *params;
    const mr_conv_t *p = &q;
    const int32_t ic = p->is.c;
    const int32_t in_row = p->is.w * ic; /* bytes between input rows */
    const int32_t k_row = p->k_w * ic;   /* bytes of one filter row */
    const int32_t span_h = (p->k_h - 1) * p->dil_h;
    const int32_t span_w = (p->k_w - 1) * p->dil_w;
    int8_t *out = p->out;

    for (int32_t b = 0; b < p->os.n; ++b) {
        const int8_t *image = p->in + (size_t)b * (size_t)(p->is.h * in_row);
        for (int32_t oy = 0; oy < p->os.h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            const int rows_inside = iy0 >= 0 && iy0 + span_h < p->is.h;
            for (int32_t ox = 0; ox < p->os.w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                if (rows_inside && ix0 >= 0 && ix0 + span_w < p->is.w && p->dil_w == 1) {
                    /* Inside the image: each filter row reads k_row contiguous input bytes. */
                    out = conv_position(p, image + iy0 * in_row + ix0 * ic, p->dil_h * in_row, out);
                    continue;
                }
                /* Border (or dilated) window: gathered in filter order, a point outside
                 * the image as the input zero point, which cancels the input offset
                 * folded into the bias exactly as the reference's skipping does. */
                int8_t *dst = p->window;
                for (int32_t fy = 0; fy < p->k_h; ++fy) {
                    const int32_t iy = iy0 + fy * p->dil_h;
                    for (int32_t fx = 0; fx < p->k_w; ++fx, dst += ic) {
                        const int32_t ix = ix0 + fx * p->dil_w;
                        if (iy >= 0 && iy < p->is.h && ix >= 0 && ix < p->is.w) {
                            memcpy(dst, image + iy * in_row + ix * ic, (size_t)ic);
                        } else {
                            memset(dst, (int)(int8_t)p->in_zp, (size_t)ic);
                        }
                    }
                }
                out = conv_position(p, p->window, k_row, out);
            }
        }
    }
}

void mr_kernel_maxpool(const mr_pool_t *params)
{
    const mr_pool_t q = *params; /* see mr_kernel_conv */
    const mr_pool_t *p = &q;
    const int32_t c_n = p->is.c;
    int8_t *out = p->out;
    for (int32_t b = 0; b < p->os.n; ++b) {
        const int8_t *image = p->in + (size_t)b * (size_t)(p->is.h * p->is.w * c_n);
        for (int32_t oy = 0; oy < p->os.h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            const int32_t fy0 = iy0 < 0 ? -iy0 : 0;
            const int32_t fy1 = p->k_h < p->is.h - iy0 ? p->k_h : p->is.h - iy0;
            for (int32_t ox = 0; ox < p->os.w; ++ox, out += c_n) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                const int32_t fx0 = ix0 < 0 ? -ix0 : 0;
                const int32_t fx1 = p->k_w < p->is.w - ix0 ? p->k_w : p->is.w - ix0;
                for (int32_t c = 0; c < c_n; ++c) {
                    out[c] = -128;
                }
                for (int32_t fy = fy0; fy < fy1; ++fy) {
                    for (int32_t fx = fx0; fx < fx1; ++fx) {
                        const int8_t *x = image + ((iy0 + fy) * p->is.w + (ix0 + fx)) * c_n;
                        for (int32_t c = 0; c < c_n; ++c) {
                            if (x[c] > out[c]) {
                                out[c] = x[c];
                            }
                        }
                    }
                }
                for (int32_t c = 0; c < c_n; ++c) {
                    out[c] = (int8_t)clamp(out[c], p->act_min, p->act_max);
                }
            }
        }
    }
}

void mr_kernel_fc(const mr_fc_t *params)
{
    const mr_fc_t q = *params; /* see mr_kernel_conv */
    const mr_fc_t *p = &q;
    int8_t *out = p->out;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = p->in + (size_t)b * (size_t)p->depth;
        const int8_t *w = p->w;
        int32_t oc = 0;
        for (; oc + 1 < p->out_c; oc += 2, w += 2 * p->depth) {
            int32_t s0, s1;
            dot2_s8(x, w, w + p->depth, p->depth, &s0, &s1);
            *out++ = requantize((uint32_t)p->bias[oc] + (uint32_t)s0, &p->rq, oc);
            *out++ = requantize((uint32_t)p->bias[oc + 1] + (uint32_t)s1, &p->rq, oc + 1);
        }
        if (oc < p->out_c) {
            *out++ = requantize((uint32_t)p->bias[oc] + (uint32_t)dot_s8(w, x, p->depth), &p->rq, oc);
        }
    }
}

/* TFLite's int8 AddFunc: both inputs to a common scale with 20 bits of headroom, summed, rescaled. */
static inline int8_t add_one(const mr_add_t *p, int32_t x1, int32_t x2)
{
    const int32_t a = mr_rdbpot(mr_srdhm((x1 + p->in1_offset) * (1 << 20), p->in1_mult), -p->in1_shift);
    const int32_t b = mr_rdbpot(mr_srdhm((x2 + p->in2_offset) * (1 << 20), p->in2_mult), -p->in2_shift);
    const int32_t sum = mr_rdbpot(mr_srdhm(a + b, p->out_mult), -p->out_shift) + p->out_offset;
    return (int8_t)clamp(sum, p->act_min, p->act_max);
}

void mr_kernel_add(const mr_add_t *params)
{
    const mr_add_t q = *params; /* see mr_kernel_conv */
    const mr_add_t *p = &q;
    if (!p->broadcast) {
        for (int32_t i = 0; i < p->count; ++i) {
            p->out[i] = add_one(p, p->in1[i], p->in2[i]);
        }
        return;
    }
    int8_t *out = p->out;
    for (int32_t i0 = 0; i0 < p->dims[0]; ++i0) {
        for (int32_t i1 = 0; i1 < p->dims[1]; ++i1) {
            for (int32_t i2 = 0; i2 < p->dims[2]; ++i2) {
                const int8_t *a = p->in1 + i0 * p->stride1[0] + i1 * p->stride1[1] + i2 * p->stride1[2];
                const int8_t *b = p->in2 + i0 * p->stride2[0] + i1 * p->stride2[1] + i2 * p->stride2[2];
                for (int32_t i3 = 0; i3 < p->dims[3]; ++i3) {
                    *out++ = add_one(p, a[i3 * p->stride1[3]], b[i3 * p->stride2[3]]);
                }
            }
        }
    }
}

void mr_kernel_softmax(const mr_softmax_t *p)
{
    for (int32_t r = 0; r < p->rows; ++r) {
        mr_softmax_row_s8(p->in + (size_t)r * (size_t)p->depth, p->out + (size_t)r * (size_t)p->depth, p->depth,
                          p->input_multiplier, p->input_left_shift, p->diff_min);
    }
}
