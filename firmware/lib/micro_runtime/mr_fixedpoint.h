/*
 * mr_fixedpoint - the integer arithmetic of TFLite Micro's int8 reference
 * kernels (private to micro_runtime), written from the documented semantics:
 *
 *  - gemmlowp's SaturatingRoundingDoublingHighMul (VQRDMULH) and
 *    RoundingDivideByPOT (rounding arithmetic right shift, ties away from 0);
 *  - TFLite's double-rounding MultiplyByQuantizedMultiplier (the default build,
 *    TFLITE_SINGLE_ROUNDING unset) and its SmallerThanOneExp / GreaterThanOne
 *    variants;
 *  - QuantizeMultiplier: frexp() of the real multiplier, significand rounded
 *    (half away from zero) to Q0.31, 2^31 folded into the exponent, shifts
 *    below -31 flushed to zero;
 *  - gemmlowp's fixed-point exp() on negative values and 1/(1+x), used by the
 *    int8 softmax.
 *
 * Signed overflow is never relied on: where the reference wraps (shifts of
 * int32 values, long sums) the code computes in uint32_t and converts back,
 * which gives the same two's-complement result without undefined behaviour.
 * Right shifts of negative values are relied on to be arithmetic (checked at
 * compile time below).
 */
#ifndef MR_FIXEDPOINT_H
#define MR_FIXEDPOINT_H

#include <stdbool.h>
#include <stdint.h>

/* Right shifts of negative values must be arithmetic (floor division by a power
 * of two). C11 leaves that to the implementation; GCC, Clang, IAR and Arm
 * Compiler all define it so, and this refuses to build anywhere else. */
_Static_assert((-1 >> 1) == -1 && (-9 >> 2) == -3, "arithmetic right shift of negative int required");
_Static_assert(((int64_t)-9 >> 2) == -3, "arithmetic right shift of negative int64_t required");

/* uint32 -> int32 two's-complement reinterpretation, without implementation-defined casts. */
static inline int32_t mr_wrap_i32(uint32_t v)
{
    return v <= 0x7FFFFFFFu ? (int32_t)v : (int32_t)(v - 0x80000000u) - 0x7FFFFFFF - 1;
}

/* x * 2^n with the reference's int32 wrap-around, n in [0, 31]. */
static inline int32_t mr_shl(int32_t x, int n)
{
    return mr_wrap_i32((uint32_t)x << n);
}

/* gemmlowp SaturatingRoundingDoublingHighMul: (a * b + nudge) / 2^31 with a
 * truncating division and nudge 2^30 (ab >= 0) or 1 - 2^30 (ab < 0); INT32_MIN
 * squared saturates. For ab < 0, trunc((ab + 1 - 2^30) / 2^31) equals
 * floor((ab + 2^30) / 2^31), so both signs are one rounding shift. */
static inline int32_t mr_srdhm(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

/* gemmlowp RoundingDivideByPOT: x / 2^e rounded to nearest, ties away from zero, e in [0, 31]. */
static inline int32_t mr_rdbpot(int32_t x, int e)
{
    const int32_t mask = (int32_t)((1u << e) - 1u); /* e = 31: 0x7FFFFFFF */
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> e) + (remainder > threshold ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier (double rounding), shift in [-31, 30]. */
static inline int32_t mr_mbqm(int32_t x, int32_t multiplier, int shift)
{
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    return mr_rdbpot(mr_srdhm(mr_shl(x, left), multiplier), right);
}

/* mr_mbqm for a multiplier > 0 (every one QuantizeMultiplier makes from a
 * positive scale): SRDHM cannot meet INT32_MIN * INT32_MIN, so no check. */
static inline int32_t mr_mbqm_pos(int32_t x, int32_t multiplier, int shift)
{
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    const int32_t high = (int32_t)(((int64_t)mr_shl(x, left) * multiplier + ((int64_t)1 << 30)) >> 31);
    return mr_rdbpot(high, right);
}

/* TFLite QuantizeMultiplier for a finite multiplier >= 0: *m in [2^30, 2^31) or 0,
 * *shift its power-of-two exponent. */
void mr_quantize_multiplier(double real, int32_t *m, int *shift);

/* TFLite's float rounding (std::round: half away from zero) of a float. */
float mr_roundf(float x);

/* One row of TFLite's int8 -> int8 softmax (output scale 1/256, zero point -128). */
void mr_softmax_row_s8(const int8_t *in, int8_t *out, int32_t depth, int32_t input_multiplier, int32_t input_left_shift,
                       int32_t diff_min);

#endif /* MR_FIXEDPOINT_H */
