/* mr_fixedpoint - TFLite/gemmlowp integer arithmetic; see mr_fixedpoint.h. */
#include "mr_fixedpoint.h"

#include <string.h>

_Static_assert(sizeof(double) == 8, "IEEE-754 binary64 double expected");
_Static_assert(sizeof(float) == 4, "IEEE-754 binary32 float expected");

/* frexp() for a finite double > 0: returns the significand in [0.5, 1) and sets *exp. */
static double frexp_positive(double x, int *exp)
{
    uint64_t bits;
    int adjust = 0;
    memcpy(&bits, &x, sizeof bits);
    if (((bits >> 52) & 0x7FFu) == 0u) { /* subnormal: scale into the normal range first */
        x *= 18014398509481984.0;        /* 2^54, exact */
        memcpy(&bits, &x, sizeof bits);
        adjust = -54;
    }
    *exp = (int)((bits >> 52) & 0x7FFu) - 1022 + adjust;
    bits = (bits & ~(0x7FFull << 52)) | (1022ull << 52);
    memcpy(&x, &bits, sizeof x);
    return x;
}

void mr_quantize_multiplier(double real, int32_t *m, int *shift)
{
    if (!(real > 0.0)) { /* 0 (and, defensively, anything not positive) */
        *m = 0;
        *shift = 0;
        return;
    }
    int exp;
    const double q = frexp_positive(real, &exp);
    /* round(q * 2^31) with q in [0.5, 1): q * 2^31 + 0.5 is exact at this magnitude, so
     * truncating it rounds half away from zero, as TfLiteRound (std::round) does. */
    int64_t q_fixed = (int64_t)(q * 2147483648.0 + 0.5);
    if (q_fixed == (int64_t)1 << 31) {
        q_fixed /= 2;
        ++exp;
    }
    if (exp < -31) {
        exp = 0;
        q_fixed = 0;
    }
    *m = (int32_t)q_fixed;
    *shift = exp;
}

float mr_roundf(float x)
{
    /* In double, x + 0.5 is exact for every float x, so floor() of it is the
     * correctly rounded result; floats of magnitude >= 2^23 are integers already. */
    const double d = (double)x;
    if (!(d < 8388608.0 && d > -8388608.0)) {
        return x; /* integral, infinite or NaN */
    }
    const double a = (d < 0.0 ? -d : d) + 0.5;
    const double r = (double)(int64_t)a; /* truncation = floor for a >= 0 */
    return (float)(d < 0.0 ? -r : r);
}

/* --- gemmlowp fixed-point helpers (raw int32 values; Qm.n named in comments) --- */

/* SaturatingRoundingMultiplyByPOT with a positive exponent: saturating x * 2^e. */
static int32_t sat_shl(int32_t x, int e)
{
    const int32_t threshold = (int32_t)((1u << (31 - e)) - 1u);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return mr_shl(x, e);
}

/* RoundingHalfSum: (a + b) / 2 rounded to nearest, ties away from zero. */
static int32_t rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out: Taylor expansion around -1/8. */
static int32_t exp_on_interval_neg_quarter_to_0(int32_t a)
{
    const int32_t constant_term = 1895147668; /* exp(-1/8) */
    const int32_t one_third = 715827883;
    const int32_t x = a + (1 << 28); /* a + 1/8 */
    const int32_t x2 = mr_srdhm(x, x);
    const int32_t x3 = mr_srdhm(x2, x);
    const int32_t x4 = mr_srdhm(x2, x2);
    const int32_t x4_over_4 = mr_rdbpot(x4, 2);
    const int32_t poly = mr_rdbpot(mr_srdhm(x4_over_4 + x3, one_third) + x2, 1);
    return constant_term + mr_srdhm(constant_term, x + poly);
}

/* exp(a) for a <= 0, a in Q5.26, result in Q0.31 (gemmlowp exp_on_negative_values<5>). */
static int32_t exp_on_negative_values_q5(int32_t a)
{
    static const int32_t kMultipliers[7] = {
        /* exp(-2^k) in Q0.31 for k = -2 .. 4 */
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242,
    };
    const int32_t one_quarter = 1 << 24; /* 1/4 in Q5.26 */
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter;
    /* Rescale Q5.26 -> Q0.31: saturating shift left by 5 (never saturates here). */
    int32_t result = exp_on_interval_neg_quarter_to_0(sat_shl(a_mod_quarter_minus_one_quarter, 5));
    const uint32_t remainder = (uint32_t)a_mod_quarter_minus_one_quarter - (uint32_t)a;
    for (int k = 0; k < 7; ++k) { /* bit 26 + (k - 2) of the remainder selects exp(-2^(k-2)) */
        if (remainder & (1u << (24 + k))) {
            result = mr_srdhm(result, kMultipliers[k]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 in and out: Newton-Raphson, three steps. */
static int32_t one_over_one_plus_x_for_x_in_0_1(int32_t a)
{
    const int32_t half_denominator = rounding_half_sum(a, INT32_MAX); /* Q0.31 */
    const int32_t constant_48_over_17 = 1515870810;                   /* Q2.29 */
    const int32_t constant_neg_32_over_17 = -1010580540;              /* Q2.29 */
    int32_t x = constant_48_over_17 + mr_srdhm(half_denominator, constant_neg_32_over_17);
    for (int i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = mr_srdhm(half_denominator, x); /* Q2.29 */
        const int32_t one_minus = (1 << 29) - half_denominator_times_x;         /* Q2.29 */
        x = x + sat_shl(mr_srdhm(x, one_minus), 2);                             /* Q4.27 product rescaled to Q2.29 */
    }
    /* x / 2 read as Q1.30, rescaled to Q0.31. */
    return sat_shl(x, 1);
}

static int count_leading_zeros(uint32_t x)
{
    int n = 0;
    if (x == 0u) {
        return 32;
    }
    while ((x & 0x80000000u) == 0u) {
        x <<= 1;
        ++n;
    }
    return n;
}

void mr_softmax_row_s8(const int8_t *in, int8_t *out, int32_t depth, int32_t input_multiplier, int32_t input_left_shift,
                       int32_t diff_min)
{
    int32_t max_in_row = -128;
    for (int32_t c = 0; c < depth; ++c) {
        if (in[c] > max_in_row) {
            max_in_row = in[c];
        }
    }
    /* Sum of exp(beta * scale * (x - max)) in Q12.19. */
    uint32_t sum_of_exps = 0u;
    for (int32_t c = 0; c < depth; ++c) {
        const int32_t diff = (int32_t)in[c] - max_in_row;
        if (diff >= diff_min) {
            const int32_t scaled = mr_srdhm(mr_shl(diff, input_left_shift), input_multiplier);
            sum_of_exps += (uint32_t)mr_rdbpot(exp_on_negative_values_q5(scaled), 12);
        }
    }
    /* 1 / sum: the sum normalised to [1, 2), its reciprocal in Q0.31, and the
     * number of bits the normalisation moved (num_bits_over_unit). */
    const int headroom_plus_one = count_leading_zeros(sum_of_exps);
    const int num_bits_over_unit = 12 - headroom_plus_one;
    const int32_t shifted_sum_minus_one = mr_wrap_i32((sum_of_exps << headroom_plus_one) - 0x80000000u);
    const int32_t shifted_scale = one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
    const int exponent = num_bits_over_unit + 31 - 8;
    for (int32_t c = 0; c < depth; ++c) {
        const int32_t diff = (int32_t)in[c] - max_in_row;
        int32_t v = -128;
        if (diff >= diff_min) {
            const int32_t scaled = mr_srdhm(mr_shl(diff, input_left_shift), input_multiplier);
            const int32_t exp_in_0 = exp_on_negative_values_q5(scaled);
            v = mr_rdbpot(mr_srdhm(shifted_scale, exp_in_0), exponent) - 128;
            v = v < -128 ? -128 : (v > 127 ? 127 : v);
        }
        out[c] = (int8_t)v;
    }
}
