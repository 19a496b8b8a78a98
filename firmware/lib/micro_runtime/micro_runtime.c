/*
 * micro_runtime - model checking, arena planning and operator preparation;
 * see micro_runtime.h and docs/micro_runtime.md.
 *
 * mr_init() reads the model three times, never writing before it knows the
 * arena is big enough:
 *   1. check: every operator, tensor and option is decoded and checked, and
 *      the persistent bytes (operator records, per-channel constants) counted;
 *   2. plan: in scratch space at the top of the arena, each activation tensor
 *      gets its lifetime (first producer .. last consumer) and an offset, by
 *      greedy first fit in order of decreasing size (RESHAPE outputs share
 *      their input's memory);
 *   3. fill: the operator records are written at the bottom of the arena,
 *      multipliers computed, data pointers resolved.
 */
#include "micro_runtime.h"

#include <stdbool.h>
#include <string.h>

#include "mr_fixedpoint.h"
#include "mr_flatbuffer.h"
#include "mr_kernels.h"

/* --- TFLite schema (schema.fbs, version 3): the few ids we read --- */
#define TFLITE_SCHEMA_VERSION 3u

enum { MODEL_VERSION = 0, MODEL_OPERATOR_CODES = 1, MODEL_SUBGRAPHS = 2, MODEL_BUFFERS = 4 };
enum { OPCODE_DEPRECATED_BUILTIN = 0, OPCODE_BUILTIN = 3 };
enum { SUBGRAPH_TENSORS = 0, SUBGRAPH_INPUTS = 1, SUBGRAPH_OUTPUTS = 2, SUBGRAPH_OPERATORS = 3 };
enum {
    TENSOR_SHAPE = 0, TENSOR_TYPE = 1, TENSOR_BUFFER = 2, TENSOR_QUANTIZATION = 4,
    TENSOR_IS_VARIABLE = 5, TENSOR_SPARSITY = 6
};
enum { QUANT_SCALE = 2, QUANT_ZERO_POINT = 3, QUANT_DETAILS_TYPE = 4, QUANT_DIMENSION = 6 };
enum { BUFFER_DATA = 0, BUFFER_OFFSET = 1, BUFFER_SIZE = 2 };
enum {
    OPERATOR_OPCODE_INDEX = 0, OPERATOR_INPUTS = 1, OPERATOR_OUTPUTS = 2,
    OPERATOR_OPTIONS_TYPE = 3, OPERATOR_OPTIONS = 4
};

/* BuiltinOperator codes */
enum {
    OP_ADD = 0, OP_CONV_2D = 3, OP_FULLY_CONNECTED = 9, OP_MAX_POOL_2D = 17, OP_RESHAPE = 22,
    OP_SOFTMAX = 25, OP_CUSTOM = 32
};
/* BuiltinOptions union types */
enum {
    OPT_CONV_2D = 1, OPT_POOL_2D = 5, OPT_FULLY_CONNECTED = 8, OPT_SOFTMAX = 9, OPT_ADD = 11
};
enum { PADDING_SAME = 0, PADDING_VALID = 1 };
enum { ACT_NONE = 0, ACT_RELU = 1, ACT_RELU_N1_TO_1 = 2, ACT_RELU6 = 3 };

#define MAX_ELEMENTS (1L << 24)   /* per tensor; keeps every index computation in int32 */
#define MAX_DOT_DEPTH 65536       /* per dot product: |sum| <= 2^30 */
#define MAX_SOFTMAX_DEPTH 256     /* keeps the reference's sum of exps below 2^28 */
#define ARENA_ALIGN 8u            /* operator records hold pointers */
#define TENSOR_ALIGN 4u

/* --- init context --- */

typedef struct {
    uint32_t bytes;     /* arena bytes (aligned), 0 when not allocated */
    uint32_t offset;    /* planned, from the activation base */
    int32_t first;      /* producing op (0 for graph inputs), -1 unused */
    int32_t last;       /* last op reading it (op_count for graph outputs) */
    int16_t alias;      /* tensor whose memory this one shares (itself normally) */
    uint8_t flags;
    uint8_t pad_;
} plan_t;

enum { PLAN_PRODUCED = 1u, PLAN_GRAPH_INPUT = 2u, PLAN_GRAPH_OUTPUT = 4u, PLAN_PLACED = 8u };

typedef struct {
    mr_interpreter_t *it;
    mr_fb_t fb;
    mr_fb_vec_t opcodes, buffers, tensors, ops, inputs, outputs;
    uint8_t *arena;     /* aligned start */
    size_t arena_len;   /* usable bytes from `arena` */
    bool fill;          /* pass 3: write the records */
    size_t persist;     /* bytes taken at the bottom (pass 1 counts, pass 3 allocates) */
    plan_t *plan;       /* pass 2 and 3: at the top of the arena */
    uint8_t *act_base;  /* pass 3: the activation region */
    size_t window_bytes; /* largest CONV_2D window (k_h * k_w * in_c): one shared scratch */
    int8_t *window_buf; /* pass 3: that scratch */
    int32_t op_index;   /* operator being checked, for errors */
    int32_t op_code;
} ctx_t;

/* One tensor as read from the model. */
typedef struct {
    int32_t index;
    uint8_t type;
    uint8_t rank;
    int32_t dims[MR_MAX_DIMS];
    int32_t elements;
    const uint8_t *data;     /* constant data, NULL for activations */
    size_t data_len;
    uint32_t scale_count;
    uint32_t zero_point_count;
    mr_fb_vec_t scales;
    mr_fb_vec_t zero_points;
    int32_t quantized_dimension;
    float scale;             /* first scale (0 if none) */
    int32_t zero_point;      /* first zero point (0 if none) */
} tensor_t;

static mr_status_t fail(ctx_t *c, mr_status_t status, const char *reason, int32_t tensor_index)
{
    mr_error_t *e = &c->it->error;
    e->status = status;
    e->reason = reason;
    e->op_index = c->op_index;
    e->op_code = c->op_code;
    e->tensor_index = tensor_index;
    return status;
}

#define CHECK(cond, status, reason, tensor)                      \
    do {                                                         \
        if (!(cond)) {                                           \
            return fail(c, (status), (reason), (tensor));        \
        }                                                        \
    } while (0)
#define CHECK_FB(ok) CHECK((ok), MR_BAD_MODEL, "malformed flatbuffer (offset or length out of bounds)", -1)
#define TRY(expr)                         \
    do {                                  \
        const mr_status_t st_ = (expr);   \
        if (st_ != MR_OK) {               \
            return st_;                   \
        }                                 \
    } while (0)

static size_t align_up(size_t v, size_t a)
{
    return (v + (a - 1u)) & ~(a - 1u);
}

/* Bytes from the persistent region; NULL (counting only) before the fill pass. */
static void *take(ctx_t *c, size_t bytes)
{
    void *p = c->fill ? (void *)(c->arena + c->persist) : NULL;
    c->persist += align_up(bytes, ARENA_ALIGN);
    return p;
}

/* Pass 3: the operator's parameters, copied into the persistent region at their own size.
 * Pass 1 counts the same bytes. */
static void keep_params(ctx_t *c, struct mr_op *rec, uint8_t kind, const void *params, size_t size)
{
    void *dst = take(c, size);
    if (c->fill) {
        memcpy(dst, params, size);
        rec->kind = kind;
        rec->params = dst;
    }
}

/* --- tensors --- */

static mr_status_t tensor_read(ctx_t *c, int32_t index, tensor_t *t)
{
    const mr_fb_t *fb = &c->fb;
    mr_fb_table_t tt;
    mr_fb_vec_t shape;
    uint32_t buffer;
    uint8_t is_variable;
    bool present;

    CHECK(index >= 0 && (uint32_t)index < c->tensors.count, MR_BAD_MODEL, "tensor index out of range", index);
    memset(t, 0, sizeof *t);
    t->index = index;
    CHECK_FB(mr_fb_vec_table(fb, &c->tensors, (uint32_t)index, &tt));
    CHECK_FB(mr_fb_vector(fb, &tt, TENSOR_SHAPE, 4u, &shape));
    CHECK_FB(mr_fb_u8(fb, &tt, TENSOR_TYPE, 0u, &t->type));
    CHECK_FB(mr_fb_u32(fb, &tt, TENSOR_BUFFER, 0u, &buffer));
    CHECK_FB(mr_fb_u8(fb, &tt, TENSOR_IS_VARIABLE, 0u, &is_variable));
    CHECK(shape.count <= MR_MAX_DIMS, MR_BAD_TENSOR, "tensor rank above MR_MAX_DIMS", index);
    CHECK(is_variable == 0u, MR_BAD_TENSOR, "variable tensors are not supported", index);
    t->rank = (uint8_t)shape.count;
    int64_t elements = 1;
    for (uint32_t i = 0; i < shape.count; ++i) {
        t->dims[i] = mr_fb_vec_i32(fb, &shape, i);
        CHECK(t->dims[i] >= 1, MR_BAD_TENSOR, "tensor dimension below 1 (dynamic shapes are not supported)", index);
        elements *= t->dims[i];
        CHECK(elements <= MAX_ELEMENTS, MR_BAD_TENSOR, "tensor too large", index);
    }
    t->elements = (int32_t)elements;

    mr_fb_table_t st;
    CHECK_FB(mr_fb_subtable(fb, &tt, TENSOR_SPARSITY, &st, &present));
    CHECK(!present, MR_BAD_TENSOR, "sparse tensors are not supported", index);

    /* Constant data: buffer 0 is the empty sentinel. */
    CHECK(buffer < c->buffers.count, MR_BAD_MODEL, "tensor buffer index out of range", index);
    if (buffer != 0u) {
        mr_fb_table_t bt;
        mr_fb_vec_t data;
        uint64_t offset, size;
        CHECK_FB(mr_fb_vec_table(fb, &c->buffers, buffer, &bt));
        CHECK_FB(mr_fb_vector(fb, &bt, BUFFER_DATA, 1u, &data));
        CHECK_FB(mr_fb_u64(fb, &bt, BUFFER_OFFSET, 0u, &offset));
        CHECK_FB(mr_fb_u64(fb, &bt, BUFFER_SIZE, 0u, &size));
        if (data.count > 0u) {
            t->data = fb->base + data.pos;
            t->data_len = data.count;
        } else if (offset > 1u) { /* data stored after the flatbuffer, from the model's start */
            CHECK(offset <= fb->len && size <= fb->len - offset, MR_BAD_MODEL,
                  "tensor data outside the model", index);
            t->data = fb->base + (size_t)offset;
            t->data_len = (size_t)size;
        }
    }

    mr_fb_table_t qt;
    CHECK_FB(mr_fb_subtable(fb, &tt, TENSOR_QUANTIZATION, &qt, &present));
    if (present) {
        uint8_t details;
        CHECK_FB(mr_fb_vector(fb, &qt, QUANT_SCALE, 4u, &t->scales));
        CHECK_FB(mr_fb_vector(fb, &qt, QUANT_ZERO_POINT, 8u, &t->zero_points));
        CHECK_FB(mr_fb_u8(fb, &qt, QUANT_DETAILS_TYPE, 0u, &details));
        CHECK_FB(mr_fb_i32(fb, &qt, QUANT_DIMENSION, 0, &t->quantized_dimension));
        CHECK(details == 0u, MR_BAD_TENSOR, "custom quantization is not supported", index);
        t->scale_count = t->scales.count;
        t->zero_point_count = t->zero_points.count;
        if (t->scale_count > 0u) {
            t->scale = mr_fb_vec_f32(fb, &t->scales, 0u);
        }
        if (t->zero_point_count > 0u) {
            const int64_t zp = mr_fb_vec_i64(fb, &t->zero_points, 0u);
            t->zero_point = (zp >= INT32_MIN && zp <= INT32_MAX) ? (int32_t)zp : INT32_MIN;
        }
    }
    return MR_OK;
}

static bool scale_ok(float s)
{
    return s > 0.0f && s <= 3.4e38f; /* positive and finite (NaN fails both) */
}

/* An int8 activation: per-tensor quantization with a usable scale and zero point. */
static mr_status_t need_activation(ctx_t *c, const tensor_t *t)
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
static mr_status_t need_output(ctx_t *c, const tensor_t *t)
{
    TRY(need_activation(c, t));
    CHECK(t->data == NULL, MR_BAD_MODEL, "operator output is a constant tensor", t->index);
    return MR_OK;
}

static mr_status_t need_constant(ctx_t *c, const tensor_t *t, uint8_t type, size_t elem_size)
{
    CHECK(t->type == type, MR_BAD_TENSOR, type == MR_TYPE_INT8 ? "weights are not int8" : "bias is not int32",
          t->index);
    CHECK(t->data != NULL, MR_BAD_TENSOR, "weights/bias are not constant", t->index);
    CHECK(t->data_len == (size_t)t->elements * elem_size, MR_BAD_TENSOR,
          "constant data size does not match the shape", t->index);
    return MR_OK;
}

/* Per-channel (or single) int8 weight scales: positive, finite; zero points all 0. */
static mr_status_t need_weight_quantization(ctx_t *c, const tensor_t *w, int32_t channels)
{
    CHECK(w->scale_count == 1u || w->scale_count == (uint32_t)channels, MR_BAD_TENSOR,
          "weights need one scale or one per output channel", w->index);
    CHECK(w->scale_count == 1u || w->quantized_dimension == 0, MR_BAD_TENSOR,
          "per-channel weights must be quantized along dimension 0", w->index);
    CHECK(w->zero_point_count == w->scale_count, MR_BAD_TENSOR, "weights need one zero point per scale",
          w->index);
    for (uint32_t i = 0; i < w->scale_count; ++i) {
        CHECK(scale_ok(mr_fb_vec_f32(&c->fb, &w->scales, i)), MR_BAD_TENSOR,
              "quantization scale not positive and finite", w->index);
        CHECK(mr_fb_vec_i64(&c->fb, &w->zero_points, i) == 0, MR_BAD_TENSOR,
              "weights must be symmetric (zero point 0)", w->index);
    }
    return MR_OK;
}

static int32_t read_i32_le(const uint8_t *p)
{
    return mr_fb_u32_to_i32(mr_fb_rd32(p));
}

/* Data pointer of a tensor (pass 3): constant data or its planned arena slot. */
static int8_t *tensor_data(ctx_t *c, const tensor_t *t)
{
    if (t->data != NULL) {
        return (int8_t *)(uintptr_t)t->data; /* read only: never an operator output */
    }
    const plan_t *p = &c->plan[c->plan[t->index].alias];
    return (int8_t *)(c->act_base + p->offset);
}

/* --- shared operator pieces --- */

/* TFLite CalculateActivationRangeQuantized for int8. */
static mr_status_t activation_range(ctx_t *c, uint8_t act, const tensor_t *out, int32_t *lo, int32_t *hi)
{
    static const float kBounds[4][2] = { { 0.0f, 0.0f }, { 0.0f, 0.0f }, { -1.0f, 1.0f }, { 0.0f, 6.0f } };
    *lo = -128;
    *hi = 127;
    CHECK(act <= ACT_RELU6, MR_UNSUPPORTED_OP, "fused activation other than NONE/RELU/RELU_N1_TO_1/RELU6",
          out->index);
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
static mr_status_t multiplier(ctx_t *c, double real, int32_t *m, int *shift, int32_t tensor)
{
    CHECK(real > 0.0 && real < 1e300, MR_BAD_TENSOR, "quantization scales give an unusable multiplier", tensor);
    mr_quantize_multiplier(real, m, shift);
    CHECK(*shift >= -31 && *shift <= 30, MR_BAD_TENSOR, "quantization scales give a multiplier out of range",
          tensor);
    return MR_OK;
}

/* ComputeOutSize / ComputePaddingWithOffset (TFLite padding.h), in int64. */
static mr_status_t conv_window(ctx_t *c, uint8_t padding, int32_t in, int32_t filter, int32_t stride,
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

static mr_status_t options(ctx_t *c, const mr_fb_table_t *op, uint8_t want, mr_fb_table_t *opt)
{
    uint8_t type;
    bool present;
    CHECK_FB(mr_fb_u8(&c->fb, op, OPERATOR_OPTIONS_TYPE, 0u, &type));
    CHECK_FB(mr_fb_subtable(&c->fb, op, OPERATOR_OPTIONS, opt, &present));
    CHECK(type == want && present, MR_BAD_MODEL, "operator options missing or of the wrong type", -1);
    return MR_OK;
}

/* Per-channel requantization constants and the bias with the input offset folded in. */
static mr_status_t prepare_channels(ctx_t *c, const tensor_t *in, const tensor_t *w, const tensor_t *bias,
                                    const tensor_t *out, int32_t out_c, int32_t per_channel_depth,
                                    bool float_product, mr_requant_t *rq, const int32_t **bias_out)
{
    const uint32_t n_mult = w->scale_count;
    int32_t *b = take(c, (size_t)out_c * 4u);
    int32_t *m = take(c, (size_t)n_mult * 4u);
    int8_t *s = take(c, (size_t)n_mult);
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
static mr_status_t read_bias(ctx_t *c, const mr_fb_vec_t *ins, int32_t out_c, tensor_t *bias, bool *has)
{
    *has = ins->count == 3u && mr_fb_vec_i32(&c->fb, ins, 2u) >= 0;
    if (!*has) {
        return MR_OK;
    }
    TRY(tensor_read(c, mr_fb_vec_i32(&c->fb, ins, 2u), bias));
    TRY(need_constant(c, bias, MR_TYPE_INT32, 4u));
    CHECK(bias->elements == out_c, MR_BAD_TENSOR, "bias size differs from the output channels", bias->index);
    return MR_OK;
}

static mr_shape4_t shape4(const tensor_t *t)
{
    const mr_shape4_t s = { t->dims[0], t->dims[1], t->dims[2], t->dims[3] };
    return s;
}

/* --- operators: check (pass 1) and fill (pass 3) --- */

static mr_status_t prep_conv(ctx_t *c, const mr_fb_table_t *op, const mr_fb_vec_t *ins, const mr_fb_vec_t *outs,
                             struct mr_op *rec)
{
    tensor_t in, w, bias, out;
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

    TRY(tensor_read(c, mr_fb_vec_i32(&c->fb, ins, 0u), &in));
    TRY(tensor_read(c, mr_fb_vec_i32(&c->fb, ins, 1u), &w));
    TRY(tensor_read(c, mr_fb_vec_i32(&c->fb, outs, 0u), &out));
    TRY(need_activation(c, &in));
    TRY(need_output(c, &out));
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
    TRY(prepare_channels(c, &in, &w, has_bias ? &bias : NULL, &out, w.dims[0], w.elements / w.dims[0], false,
                         &p.rq, &p.bias));
    if (c->fill) {
        p.in = tensor_data(c, &in);
        p.out = tensor_data(c, &out);
        p.w = (const int8_t *)w.data;
        p.window = c->window_buf;
    }
    keep_params(c, rec, MR_K_CONV, &p, sizeof p);
    return MR_OK;
}

static mr_status_t prep_maxpool(ctx_t *c, const mr_fb_table_t *op, const mr_fb_vec_t *ins,
                                const mr_fb_vec_t *outs, struct mr_op *rec)
{
    tensor_t in, out;
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
    TRY(tensor_read(c, mr_fb_vec_i32(&c->fb, ins, 0u), &in));
    TRY(tensor_read(c, mr_fb_vec_i32(&c->fb, outs, 0u), &out));
    TRY(need_activation(c, &in));
    TRY(need_output(c, &out));
    CHECK(in.rank == 4u && out.rank == 4u, MR_BAD_TENSOR, "MAX_POOL_2D needs 4-D tensors", out.index);
    CHECK(in.dims[0] == out.dims[0] && in.dims[3] == out.dims[3], MR_BAD_TENSOR,
          "MAX_POOL_2D batch or channels differ", out.index);
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
        p.in = tensor_data(c, &in);
        p.out = tensor_data(c, &out);
    }
    keep_params(c, rec, MR_K_MAXPOOL, &p, sizeof p);
    return MR_OK;
}

static mr_status_t prep_fc(ctx_t *c, const mr_fb_table_t *op, const mr_fb_vec_t *ins, const mr_fb_vec_t *outs,
                           struct mr_op *rec)
{
    tensor_t in, w, bias, out;
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
    TRY(tensor_read(c, mr_fb_vec_i32(&c->fb, ins, 0u), &in));
    TRY(tensor_read(c, mr_fb_vec_i32(&c->fb, ins, 1u), &w));
    TRY(tensor_read(c, mr_fb_vec_i32(&c->fb, outs, 0u), &out));
    TRY(need_activation(c, &in));
    TRY(need_output(c, &out));
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
        const double diff = product > (double)bias.scale ? product - (double)bias.scale
                                                         : (double)bias.scale - product;
        CHECK(diff / (double)out.scale <= 0.02, MR_BAD_TENSOR,
              "bias scale differs from input scale x weight scale", bias.index);
    }

    memset(&p, 0, sizeof p);
    p.batches = batches;
    p.depth = depth;
    p.out_c = out_c;
    TRY(activation_range(c, act, &out, &p.rq.act_min, &p.rq.act_max));
    TRY(prepare_channels(c, &in, &w, has_bias ? &bias : NULL, &out, out_c, depth, !per_channel, &p.rq, &p.bias));
    if (c->fill) {
        p.in = tensor_data(c, &in);
        p.out = tensor_data(c, &out);
        p.w = (const int8_t *)w.data;
    }
    keep_params(c, rec, MR_K_FC, &p, sizeof p);
    return MR_OK;
}

/* Right-align a shape into 4 dims (leading 1s). */
static bool extend4(const tensor_t *t, int32_t d[4])
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

static bool same_shape(const tensor_t *a, const tensor_t *b)
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

static mr_status_t prep_add(ctx_t *c, const mr_fb_table_t *op, const mr_fb_vec_t *ins, const mr_fb_vec_t *outs,
                            struct mr_op *rec)
{
    tensor_t a, b, out;
    mr_fb_table_t opt;
    uint8_t act;
    mr_add_t p;

    CHECK(ins->count == 2u && outs->count == 1u, MR_BAD_MODEL, "ADD needs 2 inputs and 1 output", -1);
    TRY(options(c, op, OPT_ADD, &opt));
    CHECK_FB(mr_fb_u8(&c->fb, &opt, 0, 0u, &act));
    TRY(tensor_read(c, mr_fb_vec_i32(&c->fb, ins, 0u), &a));
    TRY(tensor_read(c, mr_fb_vec_i32(&c->fb, ins, 1u), &b));
    TRY(tensor_read(c, mr_fb_vec_i32(&c->fb, outs, 0u), &out));
    TRY(need_activation(c, &a));
    TRY(need_activation(c, &b));
    TRY(need_output(c, &out));

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
        p.in1 = tensor_data(c, &a);
        p.in2 = tensor_data(c, &b);
        p.out = tensor_data(c, &out);
    }
    keep_params(c, rec, MR_K_ADD, &p, sizeof p);
    return MR_OK;
}

static mr_status_t prep_softmax(ctx_t *c, const mr_fb_table_t *op, const mr_fb_vec_t *ins,
                                const mr_fb_vec_t *outs, struct mr_op *rec)
{
    tensor_t in, out;
    mr_fb_table_t opt;
    float beta;
    mr_softmax_t p;

    CHECK(ins->count == 1u && outs->count == 1u, MR_BAD_MODEL, "SOFTMAX needs 1 input and 1 output", -1);
    TRY(options(c, op, OPT_SOFTMAX, &opt));
    CHECK_FB(mr_fb_f32(&c->fb, &opt, 0, 0.0f, &beta));
    TRY(tensor_read(c, mr_fb_vec_i32(&c->fb, ins, 0u), &in));
    TRY(tensor_read(c, mr_fb_vec_i32(&c->fb, outs, 0u), &out));
    TRY(need_activation(c, &in));
    TRY(need_output(c, &out));
    CHECK(in.rank >= 1u && same_shape(&in, &out), MR_BAD_TENSOR, "SOFTMAX input and output shapes differ",
          out.index);
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
        p.in = tensor_data(c, &in);
        p.out = tensor_data(c, &out);
    }
    keep_params(c, rec, MR_K_SOFTMAX, &p, sizeof p);
    return MR_OK;
}

static mr_status_t prep_reshape(ctx_t *c, const mr_fb_table_t *op, const mr_fb_vec_t *ins,
                                const mr_fb_vec_t *outs, struct mr_op *rec)
{
    tensor_t in, out;
    (void)op;
    CHECK((ins->count == 1u || ins->count == 2u) && outs->count == 1u, MR_BAD_MODEL,
          "RESHAPE needs 1-2 inputs and 1 output", -1);
    TRY(tensor_read(c, mr_fb_vec_i32(&c->fb, ins, 0u), &in));
    TRY(tensor_read(c, mr_fb_vec_i32(&c->fb, outs, 0u), &out));
    TRY(need_activation(c, &in));
    TRY(need_output(c, &out));
    CHECK(in.elements == out.elements, MR_BAD_TENSOR, "RESHAPE changes the element count", out.index);
    if (in.data != NULL) {
        mr_copy_t p = { NULL, NULL, (size_t)out.elements };
        if (c->fill) {
            p.in = (const int8_t *)in.data;
            p.out = tensor_data(c, &out);
        }
        keep_params(c, rec, MR_K_COPY, &p, sizeof p);
    } else if (c->fill) {
        rec->kind = MR_K_NOP; /* the planner gave the output its input's memory */
        rec->params = NULL;
    }
    return MR_OK;
}

/* --- walking the operators --- */

typedef struct {
    mr_fb_table_t table;
    mr_fb_vec_t ins, outs;
    int32_t code;
} op_t;

static mr_status_t op_read(ctx_t *c, uint32_t index, op_t *op)
{
    const mr_fb_t *fb = &c->fb;
    uint32_t opcode_index;
    mr_fb_table_t oc;
    uint8_t deprecated;
    int32_t builtin;

    c->op_index = (int32_t)index;
    c->op_code = -1;
    CHECK_FB(mr_fb_vec_table(fb, &c->ops, index, &op->table));
    CHECK_FB(mr_fb_u32(fb, &op->table, OPERATOR_OPCODE_INDEX, 0u, &opcode_index));
    CHECK_FB(mr_fb_vector(fb, &op->table, OPERATOR_INPUTS, 4u, &op->ins));
    CHECK_FB(mr_fb_vector(fb, &op->table, OPERATOR_OUTPUTS, 4u, &op->outs));
    CHECK(opcode_index < c->opcodes.count, MR_BAD_MODEL, "operator code index out of range", -1);
    CHECK_FB(mr_fb_vec_table(fb, &c->opcodes, opcode_index, &oc));
    CHECK_FB(mr_fb_u8(fb, &oc, OPCODE_DEPRECATED_BUILTIN, 0u, &deprecated));
    CHECK_FB(mr_fb_i32(fb, &oc, OPCODE_BUILTIN, 0, &builtin));
    /* The effective code is the larger of the two fields (schema_utils GetBuiltinCode). */
    const int32_t dep = deprecated < 128u ? (int32_t)deprecated : (int32_t)deprecated - 256;
    op->code = builtin > dep ? builtin : dep;
    c->op_code = op->code;
    return MR_OK;
}

static mr_status_t op_prepare(ctx_t *c, const op_t *op, struct mr_op *rec)
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
        return fail(c, MR_UNSUPPORTED_OP, op->code == OP_CUSTOM ? "custom operators are not supported"
                                                                 : "operator not supported",
                    -1);
    }
}

/* --- model header --- */

static mr_status_t read_model(ctx_t *c)
{
    const mr_fb_t *fb = &c->fb;
    mr_fb_table_t root, sg;
    mr_fb_vec_t subgraphs;
    uint32_t version;

    CHECK(fb->len >= 8u && memcmp(fb->base + 4, "TFL3", 4) == 0, MR_BAD_MODEL,
          "not a TFLite model (no TFL3 identifier)", -1);
    CHECK_FB(mr_fb_root(fb, &root));
    CHECK_FB(mr_fb_u32(fb, &root, MODEL_VERSION, 0u, &version));
    if (version != TFLITE_SCHEMA_VERSION) {
        c->it->error.value = (int32_t)(version & 0x7FFFFFFFu);
        return fail(c, MR_UNSUPPORTED_VERSION, "schema version is not 3", -1);
    }
    CHECK_FB(mr_fb_vector(fb, &root, MODEL_OPERATOR_CODES, 4u, &c->opcodes));
    CHECK_FB(mr_fb_vector(fb, &root, MODEL_SUBGRAPHS, 4u, &subgraphs));
    CHECK_FB(mr_fb_vector(fb, &root, MODEL_BUFFERS, 4u, &c->buffers));
    CHECK(subgraphs.count == 1u, MR_BAD_MODEL, "the model must have exactly one subgraph", -1);
    CHECK_FB(mr_fb_vec_table(fb, &subgraphs, 0u, &sg));
    CHECK_FB(mr_fb_vector(fb, &sg, SUBGRAPH_TENSORS, 4u, &c->tensors));
    CHECK_FB(mr_fb_vector(fb, &sg, SUBGRAPH_INPUTS, 4u, &c->inputs));
    CHECK_FB(mr_fb_vector(fb, &sg, SUBGRAPH_OUTPUTS, 4u, &c->outputs));
    CHECK_FB(mr_fb_vector(fb, &sg, SUBGRAPH_OPERATORS, 4u, &c->ops));
    CHECK(c->tensors.count <= MR_MAX_TENSORS, MR_BAD_MODEL, "more tensors than MR_MAX_TENSORS", -1);
    CHECK(c->ops.count <= MR_MAX_OPS, MR_BAD_MODEL, "more operators than MR_MAX_OPS", -1);
    CHECK(c->inputs.count >= 1u && c->inputs.count <= MR_MAX_IO, MR_BAD_MODEL,
          "the graph needs 1 to MR_MAX_IO inputs", -1);
    CHECK(c->outputs.count >= 1u && c->outputs.count <= MR_MAX_IO, MR_BAD_MODEL,
          "the graph needs 1 to MR_MAX_IO outputs", -1);
    return MR_OK;
}

/* Graph inputs and outputs: int8 activations (pass 1), their views (pass 3). */
static mr_status_t graph_io(ctx_t *c)
{
    for (int k = 0; k < 2; ++k) {
        const mr_fb_vec_t *v = k == 0 ? &c->inputs : &c->outputs;
        for (uint32_t i = 0; i < v->count; ++i) {
            tensor_t t;
            TRY(tensor_read(c, mr_fb_vec_i32(&c->fb, v, i), &t));
            TRY(need_output(c, &t)); /* int8, quantized, not constant */
            if (c->fill) {
                mr_tensor_t *view = k == 0 ? &c->it->inputs[i] : &c->it->outputs[i];
                view->data = tensor_data(c, &t);
                view->bytes = (size_t)t.elements;
                memcpy(view->dims, t.dims, sizeof view->dims);
                view->dims_count = t.rank;
                view->type = t.type;
                view->tensor_index = (int16_t)t.index;
                view->scale = t.scale;
                view->zero_point = t.zero_point;
            }
        }
    }
    return MR_OK;
}

/* --- planning (pass 2) --- */

static int16_t root_of(const ctx_t *c, int32_t t)
{
    return c->plan[t].alias;
}

static mr_status_t plan_lifetimes(ctx_t *c)
{
    const int32_t n_ops = (int32_t)c->ops.count;
    for (uint32_t t = 0; t < c->tensors.count; ++t) {
        c->plan[t] = (plan_t){ 0u, 0u, -1, -1, (int16_t)t, 0u, 0u };
    }
    c->op_index = -1;
    c->op_code = -1;
    for (uint32_t i = 0; i < c->inputs.count; ++i) {
        const int32_t t = mr_fb_vec_i32(&c->fb, &c->inputs, i);
        CHECK(!(c->plan[t].flags & PLAN_GRAPH_INPUT), MR_BAD_MODEL, "a tensor is listed twice as graph input", t);
        c->plan[t].flags |= PLAN_GRAPH_INPUT;
        c->plan[t].first = 0;
        c->plan[t].last = 0;
    }
    for (uint32_t o = 0; o < c->ops.count; ++o) {
        op_t op;
        TRY(op_read(c, o, &op));
        /* Inputs: computed before this op (or constants); extend the reader's lifetime. */
        for (uint32_t i = 0; i < op.ins.count; ++i) {
            const int32_t t = mr_fb_vec_i32(&c->fb, &op.ins, i);
            tensor_t ti;
            if (t < 0) {
                continue; /* optional input left out */
            }
            TRY(tensor_read(c, t, &ti));
            if (ti.data != NULL) {
                continue;
            }
            CHECK(c->plan[t].flags & (PLAN_PRODUCED | PLAN_GRAPH_INPUT), MR_BAD_MODEL,
                  "operator reads a tensor nothing computed before it", t);
            plan_t *r = &c->plan[root_of(c, t)];
            r->last = (int32_t)o;
        }
        /* The output: computed once, here. */
        const int32_t t = mr_fb_vec_i32(&c->fb, &op.outs, 0u);
        CHECK(!(c->plan[t].flags & (PLAN_PRODUCED | PLAN_GRAPH_INPUT)), MR_BAD_MODEL,
              "a tensor is computed twice (or overwrites a graph input)", t);
        c->plan[t].flags |= PLAN_PRODUCED;
        const int32_t in0 = mr_fb_vec_i32(&c->fb, &op.ins, 0u);
        tensor_t tin;
        TRY(tensor_read(c, in0, &tin));
        if (op.code == OP_RESHAPE && tin.data == NULL) {
            c->plan[t].alias = root_of(c, in0); /* same bytes, new shape: share the memory */
        } else {
            c->plan[t].first = (int32_t)o;
            c->plan[t].last = (int32_t)o;
        }
    }
    c->op_index = -1;
    c->op_code = -1;
    for (uint32_t i = 0; i < c->outputs.count; ++i) {
        const int32_t t = mr_fb_vec_i32(&c->fb, &c->outputs, i);
        CHECK(c->plan[t].flags & (PLAN_PRODUCED | PLAN_GRAPH_INPUT), MR_BAD_MODEL,
              "a graph output is never computed", t);
        c->plan[root_of(c, t)].last = n_ops; /* alive after the last operator */
    }
    /* Bytes: every root that is alive at some point. */
    for (uint32_t t = 0; t < c->tensors.count; ++t) {
        plan_t *p = &c->plan[t];
        if (p->alias == (int16_t)t && p->first >= 0) {
            tensor_t ti;
            TRY(tensor_read(c, (int32_t)t, &ti));
            p->bytes = (uint32_t)align_up((size_t)ti.elements, TENSOR_ALIGN);
        }
    }
    return MR_OK;
}

/* Greedy first fit, largest tensor first, among tensors whose lifetimes overlap.
 * `order` keeps the placed tensors sorted by offset. Returns the peak. */
static size_t plan_offsets(ctx_t *c, int16_t *order)
{
    const uint32_t n = c->tensors.count;
    uint32_t placed = 0u;
    size_t peak = 0u;
    for (;;) {
        int32_t best = -1;
        for (uint32_t t = 0; t < n; ++t) {
            const plan_t *p = &c->plan[t];
            if (p->bytes > 0u && !(p->flags & PLAN_PLACED) && (best < 0 || p->bytes > c->plan[best].bytes)) {
                best = (int32_t)t;
            }
        }
        if (best < 0) {
            break;
        }
        plan_t *b = &c->plan[best];
        uint32_t offset = 0u;
        uint32_t at = 0u; /* insertion position in `order` */
        for (uint32_t k = 0; k < placed; ++k) {
            const plan_t *q = &c->plan[order[k]];
            if (q->last < b->first || q->first > b->last) {
                continue; /* never alive together */
            }
            if ((uint64_t)q->offset >= (uint64_t)offset + b->bytes) {
                break; /* the gap before q fits */
            }
            if (q->offset + q->bytes > offset) {
                offset = q->offset + q->bytes;
            }
        }
        while (at < placed && c->plan[order[at]].offset <= offset) {
            ++at;
        }
        memmove(&order[at + 1u], &order[at], (size_t)(placed - at) * sizeof order[0]);
        order[at] = (int16_t)best;
        ++placed;
        b->offset = offset;
        b->flags |= PLAN_PLACED;
        if ((size_t)offset + b->bytes > peak) {
            peak = (size_t)offset + b->bytes;
        }
    }
    return peak;
}

/* --- public API --- */

mr_status_t mr_init(mr_interpreter_t *it, const uint8_t *model, size_t model_len, uint8_t *arena,
                    size_t arena_len)
{
    ctx_t ctx;
    ctx_t *c = &ctx;

    if (it == NULL) {
        return MR_BAD_ARGUMENT;
    }
    memset(it, 0, sizeof *it);
    memset(c, 0, sizeof *c);
    c->it = it;
    c->op_index = -1;
    c->op_code = -1;
    it->error.value = 0;
    (void)fail(c, MR_OK, "ok", -1);
    CHECK(model != NULL && (arena != NULL || arena_len == 0u), MR_BAD_ARGUMENT, "NULL model or arena", -1);
    c->fb.base = model;
    c->fb.len = model_len;

    /* Pass 1: check everything, count the persistent bytes. */
    TRY(read_model(c));
    c->persist = 0u;
    (void)take(c, (size_t)c->ops.count * sizeof(struct mr_op));
    for (uint32_t o = 0; o < c->ops.count; ++o) {
        op_t op;
        TRY(op_read(c, o, &op));
        TRY(op_prepare(c, &op, NULL)); /* each checks its input and output counts */
    }
    c->op_index = -1;
    c->op_code = -1;
    TRY(graph_io(c));
    (void)take(c, c->window_bytes);
    const size_t persistent = c->persist;
    const size_t scratch = align_up((size_t)c->tensors.count * (sizeof(plan_t) + sizeof(int16_t)), ARENA_ALIGN);

    /* The usable arena: aligned start. */
    const size_t lead = arena != NULL ? (size_t)((ARENA_ALIGN - ((uintptr_t)arena & (ARENA_ALIGN - 1u))) &
                                                 (ARENA_ALIGN - 1u))
                                      : 0u;
    c->arena = arena != NULL ? arena + lead : NULL;
    c->arena_len = arena_len > lead ? (arena_len - lead) & ~(size_t)(ARENA_ALIGN - 1u) : 0u;
    if (persistent + scratch > c->arena_len) {
        it->arena_needed = persistent + scratch + ARENA_ALIGN - 1u;
        return fail(c, MR_ARENA_TOO_SMALL, "arena too small to plan in (arena_needed is a lower bound)", -1);
    }

    /* Pass 2: lifetimes and offsets, in scratch at the top of the arena. */
    c->plan = (plan_t *)(void *)(c->arena + c->arena_len - scratch);
    int16_t *order = (int16_t *)(void *)(c->plan + c->tensors.count);
    TRY(plan_lifetimes(c));
    const size_t activations = align_up(plan_offsets(c, order), ARENA_ALIGN);
    const size_t needed = persistent + (activations > scratch ? activations : scratch);
    if (needed > c->arena_len) {
        it->arena_needed = needed + ARENA_ALIGN - 1u;
        return fail(c, MR_ARENA_TOO_SMALL, "arena too small", -1);
    }

    /* Pass 3: write the operator records; the plan stays readable above them. */
    c->fill = true;
    c->persist = 0u;
    c->act_base = c->arena + persistent;
    struct mr_op *ops = take(c, (size_t)c->ops.count * sizeof(struct mr_op));
    c->window_buf = (int8_t *)c->arena + persistent - align_up(c->window_bytes, ARENA_ALIGN);
    for (uint32_t o = 0; o < c->ops.count; ++o) {
        op_t op;
        TRY(op_read(c, o, &op));
        memset(&ops[o], 0, sizeof ops[o]);
        TRY(op_prepare(c, &op, &ops[o]));
    }
    c->op_index = -1;
    c->op_code = -1;
    TRY(graph_io(c));

    it->ops = ops;
    it->op_count = (uint16_t)c->ops.count;
    it->input_count = (uint8_t)c->inputs.count;
    it->output_count = (uint8_t)c->outputs.count;
    it->arena_persistent = persistent;
    it->arena_activations = activations;
    it->arena_used = needed + lead;
    it->arena_needed = it->arena_used;
    it->ready = 1u;
    return MR_OK;
}

const mr_tensor_t *mr_input(const mr_interpreter_t *it, size_t index)
{
    return (it != NULL && it->ready && index < it->input_count) ? &it->inputs[index] : NULL;
}

const mr_tensor_t *mr_output(const mr_interpreter_t *it, size_t index)
{
    return (it != NULL && it->ready && index < it->output_count) ? &it->outputs[index] : NULL;
}

mr_status_t mr_invoke(mr_interpreter_t *it)
{
    if (it == NULL) {
        return MR_BAD_ARGUMENT;
    }
    if (!it->ready) {
        return MR_NOT_READY;
    }
    for (uint16_t i = 0; i < it->op_count; ++i) {
        const struct mr_op *op = &it->ops[i];
        switch (op->kind) {
        case MR_K_CONV:
            mr_kernel_conv(op->params);
            break;
        case MR_K_MAXPOOL:
            mr_kernel_maxpool(op->params);
            break;
        case MR_K_FC:
            mr_kernel_fc(op->params);
            break;
        case MR_K_ADD:
            mr_kernel_add(op->params);
            break;
        case MR_K_SOFTMAX:
            mr_kernel_softmax(op->params);
            break;
        case MR_K_COPY: {
            const mr_copy_t *copy = op->params;
            memcpy(copy->out, copy->in, copy->bytes);
            break;
        }
        default: /* MR_K_NOP */
            break;
        }
    }
    return MR_OK;
}

const char *mr_status_str(mr_status_t status)
{
    switch (status) {
    case MR_OK:
        return "OK";
    case MR_BAD_ARGUMENT:
        return "BAD_ARGUMENT";
    case MR_BAD_MODEL:
        return "BAD_MODEL";
    case MR_UNSUPPORTED_VERSION:
        return "UNSUPPORTED_VERSION";
    case MR_UNSUPPORTED_OP:
        return "UNSUPPORTED_OP";
    case MR_BAD_TENSOR:
        return "BAD_TENSOR";
    case MR_ARENA_TOO_SMALL:
        return "ARENA_TOO_SMALL";
    case MR_NOT_READY:
        return "NOT_READY";
    }
    return "UNKNOWN";
}

/* --- error text, without printf --- */

typedef struct {
    char *buf;
    size_t cap;
    size_t len;
} text_t;

static void put_str(text_t *t, const char *s)
{
    for (; *s != '\0'; ++s) {
        if (t->len + 1u < t->cap) {
            t->buf[t->len++] = *s;
        }
    }
    if (t->cap > 0u) {
        t->buf[t->len] = '\0';
    }
}

static void put_int(text_t *t, int32_t v)
{
    char digits[12];
    size_t n = 0u;
    uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
    do {
        digits[n++] = (char)('0' + (int)(u % 10u));
        u /= 10u;
    } while (u != 0u);
    char out[14];
    size_t k = 0u;
    if (v < 0) {
        out[k++] = '-';
    }
    while (n > 0u) {
        out[k++] = digits[--n];
    }
    out[k] = '\0';
    put_str(t, out);
}

size_t mr_error_format(const mr_interpreter_t *it, char *buf, size_t buf_len)
{
    text_t t = { buf, buf_len, 0u };
    if (buf == NULL || buf_len == 0u) {
        return 0u;
    }
    buf[0] = '\0';
    if (it == NULL) {
        put_str(&t, "BAD_ARGUMENT: no interpreter");
        return t.len;
    }
    const mr_error_t *e = &it->error;
    put_str(&t, mr_status_str(e->status));
    if (e->op_index >= 0) {
        put_str(&t, ": op ");
        put_int(&t, e->op_index);
        put_str(&t, " code ");
        put_int(&t, e->op_code);
    }
    if (e->tensor_index >= 0) {
        put_str(&t, ": tensor ");
        put_int(&t, e->tensor_index);
    }
    if (e->status == MR_UNSUPPORTED_VERSION) {
        put_str(&t, ": version ");
        put_int(&t, e->value);
    }
    if (e->status == MR_ARENA_TOO_SMALL) {
        put_str(&t, ": need ");
        put_int(&t, it->arena_needed > 0x7FFFFFFFu ? INT32_MAX : (int32_t)it->arena_needed);
        put_str(&t, " bytes");
    }
    put_str(&t, ": ");
    put_str(&t, e->reason != NULL ? e->reason : "");
    return t.len;
}
