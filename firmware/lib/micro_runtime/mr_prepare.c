/*
 * mr_prepare.c - operator preparation for mr_init() (see mr_internal.h): for each operator its checks
 * (tensor types, shapes, quantization, options) and the parameters its kernel needs, derived once:
 * requantization multipliers and shifts, padding, activation ranges, biases with the input offset folded in.
 * Pass 1 checks and counts the persistent bytes; pass 3 fills the operator's record. The arithmetic follows
 * TFLite Micro's reference kernels (docs/micro_runtime.md).
 */
#include <string.h>

#include "mr_fixedpoint.h"
#include "mr_internal.h"

#define MAX_DOT_DEPTH 65536   /* per dot product: |sum| <= 2^30 */
#define MAX_SOFTMAX_DEPTH 256 /* keeps the reference's sum of exps below 2^28 */

/* Pass 3: the operator's parameters, copied into the persistent region at their own size.
 * Pass 1 counts the same bytes. */
static void keep_params(mr_ctx_t *c, struct mr_op *rec, uint8_t kind, const void *params, size_t size)
{
    void *dst = mr_take(c, size);
    if (c->fill) {
        memcpy(dst, params, size);
        rec->kind = kind;
        rec->params = dst;
    }
}

/* --- tensors --- */

static bool scale_ok(float s)
{
    return s > 0.0f && s <= 3.4e38f; /* positive and finite (NaN fails both) */
}

/* An int8 activation: per-tensor quantization with a usable scale and zero point. */
static mr_status_t need_activation(mr_ctx_t *c, const mr_model_tensor_t *t)
{
    CHECK(t->type == MR_TYPE_INT8, MR_BAD_TENSOR, "activation tensor is not int8", t->index);
    CHECK(t->scale_count == 1u && t->zero_point_count == 1u, MR_BAD_TENSOR,
          "int8 activation needs one scale and one zero point", t->index);
    CHECK(scale_ok(t->scale), MR_BAD_TENSOR, "quantization scale not positive and finite", t->index);
    CHECK(t->zero_point >= -128 && t->zero_point <= 127, MR_BAD_TENSOR, "zero point outside int8", t->index);
    CHECK(t->data == NULL || t->data_len == (size_t)t->elements, MR_BAD_TENSOR,
          "constant data size does not match the shape", t->index);
    return MR_OK;
}

/* An operator's output: an int8 activation computed at run time. */
mr_status_t mr_need_output(mr_ctx_t *c, const mr_model_tensor_t *t)
{
    TRY(need_activation(c, t));
    CHECK(t->data == NULL, MR_BAD_MODEL, "operator output is a constant tensor", t->index);
    return MR_OK;
}

static mr_status_t need_constant(mr_ctx_t *c, const mr_model_tensor_t *t, uint8_t type, size_t elem_size)
{
    CHECK(t->type == type, MR_BAD_TENSOR, type == MR_TYPE_INT8 ? "weights are not int8" : "bias is not int32",
          t->index);
    CHECK(t->data != NULL, MR_BAD_TENSOR, "weights/bias are not constant", t->index);
    CHECK(t->data_len == (size_t)t->elements * elem_size, MR_BAD_TENSOR, "constant data size does not match the shape",
          t->index);
    return MR_OK;
}

/* Per-channel (or single) int8 weight scales: positive, finite; zero points all 0. */
static mr_status_t need_weight_quantization(mr_ctx_t *c, const mr_model_tensor_t *w, int32_t channels)
{
    CHECK(w->scale_count == 1u || w->scale_count == (uint32_t)channels, MR_BAD_TENSOR,
          "weights need one scale or one per output channel", w->index);
    CHECK(w->scale_count == 1u || w->quantized_dimension == 0, MR_BAD_TENSOR,
          "per-channel weights must be quantized along dimension 0", w->index);
    CHECK(w->zero_point_count == w->scale_count, MR_BAD_TENSOR, "weights need one zero point per scale", w->index);
    for (uint32_t i = 0; i < w->scale_count; ++i) {
        CHECK(scale_ok(mr_fb_vec_f32(&c->fb, &w->scales, i)), MR_BAD_TENSOR,
              "quantization scale not positive and finite", w->index);
        CHECK(mr_fb_vec_i64(&c->fb, &w->zero_points, i) == 0, MR_BAD_TENSOR, "weights must be symmetric (zero point 0)",
              w->index);
    }
    return MR_OK;
}

static int32_t read_i32_le(const uint8_t *p)
{
    return mr_fb_u32_to_i32(mr_fb_rd32(p));
}

/* --- shared operator pieces --- */

/* TFLite CalculateActivationRangeQuantized for int8. */
static mr_status_t activation_range(mr_ctx_t *c, uint8_t act, const mr_model_tensor_t *out, int32_t *lo, int32_t *hi)
{
    static const float kBounds[4][2] = {{0.0f, 0.0f}, {0.0f, 0.0f}, {-1.0f, 1.0f}, {0.0f, 6.0f}};
    *lo = -128;
    *hi = 127;
    CHECK(act <= ACT_RELU6, MR_UNSUPPORTED_OP, "fused activation other than NONE/RELU/RELU_N1_TO_1/RELU6", out->index);
    if (act == ACT_NONE) {
        return MR_OK;
    }
    for (int k = 0; k < 2; ++k) {
        if (act == ACT_RELU && k == 1) {
            break; /* RELU has no upper bound */
        }
        const float q = mr_roundf(kBounds[act][k] / out->scale);
        CHECK(q >= -2147483648.0f && q < 2147483648.0f, MR_BAD_TENSOR,
              "activation bound does not fit the output quantization", out->index);
        const int64_t v = (int64_t)out->zero_point + (int64_t)q;
        if (k == 0) {
            *lo = v > -128 ? (int32_t)(v < 127 ? v : 127) : -128;
        } else {
            *hi = v < 127 ? (int32_t)(v > -128 ? v : -128) : 127;
        }
    }
    return MR_OK;
}

/* QuantizeMultiplier plus the range our integer kernels support. */
static mr_status_t multiplier(mr_ctx_t *c, double real, int32_t *m, int *shift, int32_t tensor)
{
    CHECK(real > 0.0 && real < 1e300, MR_BAD_TENSOR, "quantization scales give an unusable multiplier", tensor);
    mr_quantize_multiplier(real, m, shift);
    CHECK(*shift >= -31 && *shift <= 30, MR_BAD_TENSOR, "quantization scales give a multiplier out of range", tensor);
    return MR_OK;
}

/* ComputeOutSize / ComputePaddingWithOffset (TFLite padding.h), in int64. */
static mr_status_t conv_window(mr_ctx_t *c, uint8_t padding, int32_t in, int32_t filter, int32_t stride,
                               int32_t dilation, int32_t out_expected, int32_t *pad, int32_t tensor)
{
    CHECK(padding == PADDING_SAME || padding == PADDING_VALID, MR_BAD_MODEL, "unknown padding", -1);
    CHECK(stride >= 1 && stride <= MAX_ELEMENTS && dilation >= 1 && dilation <= MAX_ELEMENTS, MR_BAD_MODEL,
          "stride or dilation out of range", -1);
    const int64_t effective64 = (int64_t)(filter - 1) * dilation + 1;
    CHECK(effective64 <= MAX_ELEMENTS, MR_BAD_TENSOR, "filter too large", tensor);
    /* in, stride and the effective filter are all at most 2^24 now: int32 from here on. */
    const int32_t effective = (int32_t)effective64;
    const int32_t out = padding == PADDING_SAME ? (in + stride - 1) / stride : (in + stride - effective) / stride;
    CHECK(out == out_expected, MR_BAD_TENSOR, "output shape does not match the window arithmetic", tensor);
    const int32_t total = (out - 1) * stride + effective - in; /* (out - 1) * stride < in + stride */
    *pad = total > 0 ? total / 2 : 0;
    return MR_OK;
}

static mr_status_t options(mr_ctx_t *c, const mr_fb_table_t *op, uint8_t want, mr_fb_table_t *opt)
{
    uint8_t type;
    bool present;
    CHECK_FB(mr_fb_u8(&c->fb, op, OPERATOR_OPTIONS_TYPE, 0u, &type));
    CHECK_FB(mr_fb_subtable(&c->fb, op, OPERATOR_OPTIONS, opt, &present));
    CHECK(type == want && present, MR_BAD_MODEL, "operator options missing or of the wrong type", -1);
    return MR_OK;
}

/* Per-channel requantization constants and the bias with the input offset folded in. */
static mr_status_t prepare_channels(mr_ctx_t *c, const mr_model_tensor_t *in, const mr_model_tensor_t *w,
                                    const mr_model_tensor_t *bias, const mr_model_tensor_t *out, int32_t out_c,
                                    int32_t per_channel_depth, bool float_product, mr_requant_t *rq,
                                    const int32_t **bias_out)
{
    const uint32_t n_mult = w->scale_count;
    int32_t *b = mr_take(c, (size_t)out_c * 4u);
    int32_t *m = mr_take(c, (size_t)n_mult * 4u);
    int8_t *s = mr_take(c, (size_t)n_mult);
    for (uint32_t i = 0; i < n_mult; ++i) {
        const float ws = mr_fb_vec_f32(&c->fb, &w->scales, i);
        /* Per-tensor FULLY_CONNECTED multiplies the scales in float (GetQuantizedConvolutionMultipler);
         * CONV_2D and per-channel FULLY_CONNECTED in double. */
        const double real = float_product ? (double)(in->scale * ws) / (double)out->scale
                                          : (double)in->scale * (double)ws / (double)out->scale;
        int32_t mi;
        int si;
        TRY(multiplier(c, real, &mi, &si, w->index));
        if (c->fill) {
            m[i] = mi;
            s[i] = (int8_t)si;
        }
    }
    if (c->fill) {
        const int32_t input_offset = -in->zero_point;
        for (int32_t oc = 0; oc < out_c; ++oc) {
            int64_t sum = 0;
            const int8_t *wr = (const int8_t *)w->data + (size_t)oc * (size_t)per_channel_depth;
            for (int32_t i = 0; i < per_channel_depth; ++i) {
                sum += wr[i];
            }
            const uint32_t raw = bias != NULL ? (uint32_t)read_i32_le(bias->data + (size_t)oc * 4u) : 0u;
            b[oc] = mr_wrap_i32(raw + (uint32_t)((int64_t)input_offset * sum));
        }
    }
    rq->mult = m;
    rq->shift = s;
    rq->mult_step = n_mult > 1u ? 1u : 0u;
    rq->out_zp = out->zero_point;
    *bias_out = b;
    return MR_OK;
}

/* Optional bias (input 2): absent, -1, or int32 [out_c]. */
static mr_status_t read_bias(mr_ctx_t *c, const mr_fb_vec_t *ins, int32_t out_c, mr_model_tensor_t *bias, bool *has)
{
    *has = ins->count == 3u && mr_fb_vec_i32(&c->fb, ins, 2u) >= 0;
    if (!*has) {
        return MR_OK;
    }
    TRY(mr_tensor_read(c, mr_fb_vec_i32(&c->fb, ins, 2u), bias));
    TRY(need_constant(c, bias, MR_TYPE_INT32, 4u));
    CHECK(bias->elements == out_c, MR_BAD_TENSOR, "bias size differs from the output channels", bias->index);
    return MR_OK;
}

static mr_shape4_t shape4(const mr_model_tensor_t *t)
{
    const mr_shape4_t s = {t->dims[0], t->dims[1], t->dims[2], t->dims[3]};
    return s;
}

/* --- operators: check (pass 1) and fill (pass 3) --- */

static mr_status_t prep_conv(mr_ctx_t *c, const mr_fb_table_t *op, const mr_fb_vec_t *ins, const mr_fb_vec_t *outs,
                             struct mr_op *rec)
{
    mr_model_tensor_t in, w, bias, out;
    mr_fb_table_t opt;
    uint8_t padding, act;
    int32_t stride_w, stride_h, dil_w, dil_h;
    bool has_bias;
    mr_conv_t p;

    CHECK((ins->count == 2u || ins->count == 3u) && outs->count == 1u, MR_BAD_MODEL,
          "CONV_2D needs 2-3 inputs and 1 output", -1);
    TRY(options(c, op, OPT_CONV_2D, &opt));
    CHECK_FB(mr_fb_u8(&c->fb, &opt, 0, 0u, &padding));
    CHECK_FB(mr_fb_i32(&c->fb, &opt, 1, 0, &stride_w));
    CHECK_FB(mr_fb_i32(&c->fb, &opt, 2, 0, &stride_h));
    CHECK_FB(mr_fb_u8(&c->fb, &opt, 3, 0u, &act));
    CHECK_FB(mr_fb_i32(&c->fb, &opt, 4, 1, &dil_w));
    CHECK_FB(mr_fb_i32(&c->fb, &opt, 5, 1, &dil_h));

    TRY(mr_tensor_read(c, mr_fb_vec_i32(&c->fb, ins, 0u), &in));
    TRY(mr_tensor_read(c, mr_fb_vec_i32(&c->fb, ins, 1u), &w));
    TRY(mr_tensor_read(c, mr_fb_vec_i32(&c->fb, outs, 0u), &out));
    TRY(need_activation(c, &in));
    TRY(mr_need_output(c, &out));
    TRY(need_constant(c, &w, MR_TYPE_INT8, 1u));
    CHECK(in.rank == 4u && out.rank == 4u && w.rank == 4u, MR_BAD_TENSOR, "CONV_2D needs 4-D tensors", w.index);
    CHECK(in.dims[0] == out.dims[0], MR_BAD_TENSOR, "CONV_2D batch sizes differ", out.index);
    CHECK(w.dims[3] == in.dims[3], MR_UNSUPPORTED_OP, "grouped CONV_2D is not supported", w.index);
    CHECK(w.dims[0] == out.dims[3], MR_BAD_TENSOR, "CONV_2D filter count differs from output channels", w.index);
    CHECK((int64_t)w.dims[2] * w.dims[3] <= MAX_DOT_DEPTH, MR_BAD_TENSOR, "CONV_2D filter row too long", w.index);
    TRY(need_weight_quantization(c, &w, w.dims[0]));
    TRY(read_bias(c, ins, w.dims[0], &bias, &has_bias));

    memset(&p, 0, sizeof p);
    p.is = shape4(&in);
    p.os = shape4(&out);
    p.k_h = w.dims[1];
    p.k_w = w.dims[2];
    p.stride_h = stride_h;
    p.stride_w = stride_w;
    p.dil_h = dil_h;
    p.dil_w = dil_w;
    p.in_zp = in.zero_point;
    if ((size_t)w.elements / (size_t)w.dims[0] > c->window_bytes) {
        c->window_bytes = (size_t)w.elements / (size_t)w.dims[0];
    }
    TRY(conv_window(c, padding, in.dims[1], p.k_h, stride_h, dil_h, out.dims[1], &p.pad_h, out.index));
    TRY(conv_window(c, padding, in.dims[2], p.k_w, stride_w, dil_w, out.dims[2], &p.pad_w, out.index));
    TRY(activation_range(c, act, &out, &p.rq.act_min, &p.rq.act_max));
    TRY(prepare_channels(c, &in, &w, has_bias ? &bias : NULL, &out, w.dims[0], w.elements / w.dims[0], false, &p.rq,
                         &p.bias));
    if (c->fill) {
        p.in = mr_tensor_data(c, &in);
        p.out = mr_tensor_data(c, &out);
        p.w = (const int8_t *)w.data;
        p.window = c->window_buf;
    }
    keep_params(c, rec, MR_K_CONV, &p, sizeof p);
    return MR_OK;
}

static mr_status_t prep_maxpool(mr_ctx_t *c, const mr_fb_table_t *op, const mr_fb_vec_t *ins, const mr_fb_vec_t *outs,
                                struct mr_op *rec)
{
    mr_model_tensor_t in, out;
    mr_fb_table_t opt;
    uint8_t padding, act;
    int32_t stride_w, stride_h, k_w, k_h;
    mr_pool_t p;

    CHECK(ins->count == 1u && outs->count == 1u, MR_BAD_MODEL, "MAX_POOL_2D needs 1 input and 1 output", -1);
    TRY(options(c, op, OPT_POOL_2D, &opt));
    CHECK_FB(mr_fb_u8(&c->fb, &opt, 0, 0u, &padding));
    CHECK_FB(mr_fb_i32(&c->fb, &opt, 1, 0, &stride_w));
    CHECK_FB(mr_fb_i32(&c->fb, &opt, 2, 0, &stride_h));
    CHECK_FB(mr_fb_i32(&c->fb, &opt, 3, 0, &k_w));
    CHECK_FB(mr_fb_i32(&c->fb, &opt, 4, 0, &k_h));
    CHECK_FB(mr_fb_u8(&c->fb, &opt, 5, 0u, &act));
    TRY(mr_tensor_read(c, mr_fb_vec_i32(&c->fb, ins, 0u), &in));
    TRY(mr_tensor_read(c, mr_fb_vec_i32(&c->fb, outs, 0u), &out));
    TRY(need_activation(c, &in));
    TRY(mr_need_output(c, &out));
    CHECK(in.rank == 4u && out.rank == 4u, MR_BAD_TENSOR, "MAX_POOL_2D needs 4-D tensors", out.index);
    CHECK(in.dims[0] == out.dims[0] && in.dims[3] == out.dims[3], MR_BAD_TENSOR, "MAX_POOL_2D batch or channels differ",
          out.index);
    CHECK(k_w >= 1 && k_h >= 1 && k_w <= MAX_ELEMENTS && k_h <= MAX_ELEMENTS, MR_BAD_MODEL,
          "MAX_POOL_2D filter size out of range", -1);

    memset(&p, 0, sizeof p);
    p.is = shape4(&in);
    p.os = shape4(&out);
    p.k_h = k_h;
    p.k_w = k_w;
    p.stride_h = stride_h;
    p.stride_w = stride_w;
    TRY(conv_window(c, padding, in.dims[1], k_h, stride_h, 1, out.dims[1], &p.pad_h, out.index));
    TRY(conv_window(c, padding, in.dims[2], k_w, stride_w, 1, out.dims[2], &p.pad_w, out.index));
    TRY(activation_range(c, act, &out, &p.act_min, &p.act_max));
    if (c->fill) {
        p.in = mr_tensor_data(c, &in);
        p.out = mr_tensor_data(c, &out);
    }
    keep_params(c, rec, MR_K_MAXPOOL, &p, sizeof p);
    return MR_OK;
}

static mr_status_t prep_fc(mr_ctx_t *c, const mr_fb_table_t *op, const mr_fb_vec_t *ins, const mr_fb_vec_t *outs,
                           struct mr_op *rec)
{
    mr_model_tensor_t in, w, bias, out;
    mr_fb_table_t opt;
    uint8_t act, weights_format;
    bool has_bias;
    mr_fc_t p;

    CHECK((ins->count == 2u || ins->count == 3u) && outs->count == 1u, MR_BAD_MODEL,
          "FULLY_CONNECTED needs 2-3 inputs and 1 output", -1);
    TRY(options(c, op, OPT_FULLY_CONNECTED, &opt));
    CHECK_FB(mr_fb_u8(&c->fb, &opt, 0, 0u, &act));
    CHECK_FB(mr_fb_u8(&c->fb, &opt, 1, 0u, &weights_format));
    CHECK(weights_format == 0u, MR_UNSUPPORTED_OP, "shuffled FULLY_CONNECTED weights are not supported", -1);
    TRY(mr_tensor_read(c, mr_fb_vec_i32(&c->fb, ins, 0u), &in));
    TRY(mr_tensor_read(c, mr_fb_vec_i32(&c->fb, ins, 1u), &w));
    TRY(mr_tensor_read(c, mr_fb_vec_i32(&c->fb, outs, 0u), &out));
    TRY(need_activation(c, &in));
    TRY(mr_need_output(c, &out));
    TRY(need_constant(c, &w, MR_TYPE_INT8, 1u));
    CHECK(w.rank == 2u && out.rank >= 1u, MR_BAD_TENSOR, "FULLY_CONNECTED needs 2-D weights", w.index);
    const int32_t out_c = w.dims[0];
    const int32_t depth = w.dims[1];
    CHECK(out.dims[out.rank - 1u] == out_c, MR_BAD_TENSOR, "FULLY_CONNECTED output depth differs from weights",
          out.index);
    CHECK(depth <= MAX_DOT_DEPTH, MR_BAD_TENSOR, "FULLY_CONNECTED input too deep", w.index);
    const int32_t batches = out.elements / out_c;
    CHECK((int64_t)batches * depth == in.elements, MR_BAD_TENSOR,
          "FULLY_CONNECTED input size differs from batches x depth", in.index);
    TRY(need_weight_quantization(c, &w, out_c));
    /* keep_num_dims only shapes the output: batches = output elements / out_c either way. */
    const bool per_channel = w.scale_count > 1u;
    TRY(read_bias(c, ins, out_c, &bias, &has_bias));
    if (has_bias && !per_channel) {
        /* TFLM refuses a per-tensor model whose bias scale strays from input x weight scale. */
        const double product = (double)in.scale * (double)w.scale;
        const double diff = product > (double)bias.scale ? product - (double)bias.scale : (double)bias.scale - product;
        CHECK(diff / (double)out.scale <= 0.02, MR_BAD_TENSOR, "bias scale differs from input scale x weight scale",
              bias.index);
    }

    memset(&p, 0, sizeof p);
    p.batches = batches;
    p.depth = depth;
    p.out_c = out_c;
    TRY(activation_range(c, act, &out, &p.rq.act_min, &p.rq.act_max));
    TRY(prepare_channels(c, &in, &w, has_bias ? &bias : NULL, &out, out_c, depth, !per_channel, &p.rq, &p.bias));
    if (c->fill) {
        p.in = mr_tensor_data(c, &in);
        p.out = mr_tensor_data(c, &out);
        p.w = (const int8_t *)w.data;
    }
    keep_params(c, rec, MR_K_FC, &p, sizeof p);
    return MR_OK;
}

/* Right-align a shape into 4 dims (leading 1s). */
static bool extend4(const mr_model_tensor_t *t, int32_t d[4])
{
    if (t->rank > 4u) {
        return false;
    }
    for (int i = 0; i < 4; ++i) {
        const int k = i - (4 - (int)t->rank);
        d[i] = k >= 0 ? t->dims[k] : 1;
    }
    return true;
}

static bool same_shape(const mr_model_tensor_t *a, const mr_model_tensor_t *b)
{
    if (a->rank != b->rank) {
        return false;
    }
    for (uint8_t i = 0; i < a->rank; ++i) {
        if (a->dims[i] != b->dims[i]) {
            return false;
        }
    }
    return true;
}

static mr_status_t prep_add(mr_ctx_t *c, const mr_fb_table_t *op, const mr_fb_vec_t *ins, const mr_fb_vec_t *outs,
                            struct mr_op *rec)
{
    mr_model_tensor_t a, b, out;
    mr_fb_table_t opt;
    uint8_t act;
    mr_add_t p;

    CHECK(ins->count == 2u && outs->count == 1u, MR_BAD_MODEL, "ADD needs 2 inputs and 1 output", -1);
    TRY(options(c, op, OPT_ADD, &opt));
    CHECK_FB(mr_fb_u8(&c->fb, &opt, 0, 0u, &act));
    TRY(mr_tensor_read(c, mr_fb_vec_i32(&c->fb, ins, 0u), &a));
    TRY(mr_tensor_read(c, mr_fb_vec_i32(&c->fb, ins, 1u), &b));
    TRY(mr_tensor_read(c, mr_fb_vec_i32(&c->fb, outs, 0u), &out));
    TRY(need_activation(c, &a));
    TRY(need_activation(c, &b));
    TRY(mr_need_output(c, &out));

    memset(&p, 0, sizeof p);
    int32_t da[4], db[4], dout[4];
    const bool ranks_ok = extend4(&a, da) && extend4(&b, db) && extend4(&out, dout);
    if (same_shape(&a, &b) || (ranks_ok && memcmp(da, db, sizeof da) == 0 && memcmp(da, dout, sizeof da) == 0)) {
        /* element by element ([1, 8] + [8] included) */
        CHECK(a.elements == b.elements && a.elements == out.elements, MR_BAD_TENSOR,
              "ADD output size differs from its inputs", out.index);
        p.count = out.elements;
    } else {
        CHECK(ranks_ok, MR_BAD_TENSOR, "broadcasting ADD above 4-D is not supported", out.index);
        int32_t sa = 1, sb = 1;
        p.broadcast = 1u;
        for (int i = 3; i >= 0; --i) {
            const int32_t n = da[i] > db[i] ? da[i] : db[i];
            CHECK((da[i] == n || da[i] == 1) && (db[i] == n || db[i] == 1) && dout[i] == n, MR_BAD_TENSOR,
                  "ADD input shapes do not broadcast to the output", out.index);
            p.dims[i] = n;
            p.stride1[i] = da[i] == 1 ? 0 : sa;
            p.stride2[i] = db[i] == 1 ? 0 : sb;
            sa *= da[i];
            sb *= db[i];
        }
    }
    /* TFLM CalculateOpDataAdd (int8): left shift 20, inputs to twice the larger scale. */
    const double twice_max = 2.0 * (double)(a.scale > b.scale ? a.scale : b.scale);
    const double real_a = (double)a.scale / twice_max;
    const double real_b = (double)b.scale / twice_max;
    const double real_out = twice_max / ((double)(1 << 20) * (double)out.scale);
    CHECK(real_out > 0.0 && real_out < 1.0, MR_BAD_TENSOR, "ADD output scale too small for its inputs", out.index);
    int sh_a, sh_b, sh_o;
    TRY(multiplier(c, real_a, &p.in1_mult, &sh_a, a.index));
    TRY(multiplier(c, real_b, &p.in2_mult, &sh_b, b.index));
    TRY(multiplier(c, real_out, &p.out_mult, &sh_o, out.index));
    p.in1_shift = (int8_t)sh_a;
    p.in2_shift = (int8_t)sh_b;
    p.out_shift = (int8_t)sh_o;
    p.in1_offset = -a.zero_point;
    p.in2_offset = -b.zero_point;
    p.out_offset = out.zero_point;
    TRY(activation_range(c, act, &out, &p.act_min, &p.act_max));
    if (c->fill) {
        p.in1 = mr_tensor_data(c, &a);
        p.in2 = mr_tensor_data(c, &b);
        p.out = mr_tensor_data(c, &out);
    }
    keep_params(c, rec, MR_K_ADD, &p, sizeof p);
    return MR_OK;
}

static mr_status_t prep_softmax(mr_ctx_t *c, const mr_fb_table_t *op, const mr_fb_vec_t *ins, const mr_fb_vec_t *outs,
                                struct mr_op *rec)
{
    mr_model_tensor_t in, out;
    mr_fb_table_t opt;
    float beta;
    mr_softmax_t p;

    CHECK(ins->count == 1u && outs->count == 1u, MR_BAD_MODEL, "SOFTMAX needs 1 input and 1 output", -1);
    TRY(options(c, op, OPT_SOFTMAX, &opt));
    CHECK_FB(mr_fb_f32(&c->fb, &opt, 0, 0.0f, &beta));
    TRY(mr_tensor_read(c, mr_fb_vec_i32(&c->fb, ins, 0u), &in));
    TRY(mr_tensor_read(c, mr_fb_vec_i32(&c->fb, outs, 0u), &out));
    TRY(need_activation(c, &in));
    TRY(mr_need_output(c, &out));
    CHECK(in.rank >= 1u && same_shape(&in, &out), MR_BAD_TENSOR, "SOFTMAX input and output shapes differ", out.index);
    CHECK(out.zero_point == -128 && out.scale == 1.0f / 256.0f, MR_BAD_TENSOR,
          "int8 SOFTMAX output must have scale 1/256 and zero point -128", out.index);
    memset(&p, 0, sizeof p);
    p.depth = in.dims[in.rank - 1u];
    p.rows = in.elements / p.depth;
    CHECK(p.depth <= MAX_SOFTMAX_DEPTH, MR_BAD_TENSOR, "SOFTMAX depth above 256", in.index);
    /* PreprocessSoftmaxScaling (5 integer bits) and CalculateInputRadius. */
    double real = (double)beta * (double)in.scale * (double)(1 << 26);
    CHECK(real > 1.0 && real < 1e300, MR_BAD_TENSOR, "SOFTMAX beta x input scale out of range", in.index);
    if (real > 2147483647.0) {
        real = 2147483647.0;
    }
    int shift;
    mr_quantize_multiplier(real, &p.input_multiplier, &shift);
    CHECK(shift >= 0 && shift <= 31, MR_BAD_TENSOR, "SOFTMAX beta x input scale out of range", in.index);
    p.input_left_shift = shift;
    p.diff_min = -(int32_t)((31u << 26) >> shift);
    if (c->fill) {
        p.in = mr_tensor_data(c, &in);
        p.out = mr_tensor_data(c, &out);
    }
    keep_params(c, rec, MR_K_SOFTMAX, &p, sizeof p);
    return MR_OK;
}

static mr_status_t prep_reshape(mr_ctx_t *c, const mr_fb_table_t *op, const mr_fb_vec_t *ins, const mr_fb_vec_t *outs,
                                struct mr_op *rec)
{
    mr_model_tensor_t in, out;
    (void)op;
    CHECK((ins->count == 1u || ins->count == 2u) && outs->count == 1u, MR_BAD_MODEL,
          "RESHAPE needs 1-2 inputs and 1 output", -1);
    TRY(mr_tensor_read(c, mr_fb_vec_i32(&c->fb, ins, 0u), &in));
    TRY(mr_tensor_read(c, mr_fb_vec_i32(&c->fb, outs, 0u), &out));
    TRY(need_activation(c, &in));
    TRY(mr_need_output(c, &out));
    CHECK(in.elements == out.elements, MR_BAD_TENSOR, "RESHAPE changes the element count", out.index);
    if (in.data != NULL) {
        mr_copy_t p = {NULL, NULL, (size_t)out.elements};
        if (c->fill) {
            p.in = (const int8_t *)in.data;
            p.out = mr_tensor_data(c, &out);
        }
        keep_params(c, rec, MR_K_COPY, &p, sizeof p);
    } else if (c->fill) {
        rec->kind = MR_K_NOP; /* the planner gave the output its input's memory */
        rec->params = NULL;
    }
    return MR_OK;
}

mr_status_t mr_op_prepare(mr_ctx_t *c, const mr_model_op_t *op, struct mr_op *rec)
{
    switch (op->code) {
    case OP_CONV_2D:
        return prep_conv(c, &op->table, &op->ins, &op->outs, rec);
    case OP_MAX_POOL_2D:
        return prep_maxpool(c, &op->table, &op->ins, &op->outs, rec);
    case OP_FULLY_CONNECTED:
        return prep_fc(c, &op->table, &op->ins, &op->outs, rec);
    case OP_ADD:
        return prep_add(c, &op->table, &op->ins, &op->outs, rec);
    case OP_SOFTMAX:
        return prep_softmax(c, &op->table, &op->ins, &op->outs, rec);
    case OP_RESHAPE:
        return prep_reshape(c, &op->table, &op->ins, &op->outs, rec);
    default:
        return mr_fail(c, MR_UNSUPPORTED_OP,
                       op->code == OP_CUSTOM ? "custom operators are not supported" : "operator not supported", -1);
    }
}
