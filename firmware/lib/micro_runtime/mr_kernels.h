/*
 * mr_kernels - the prepared operators and their int8 kernels (private to
 * micro_runtime). mr_init() fills one struct mr_op per graph operator, in the
 * arena, with every pointer resolved and every multiplier precomputed;
 * mr_invoke() only runs these kernels.
 */
#ifndef MR_KERNELS_H
#define MR_KERNELS_H

#include <stddef.h>
#include <stdint.h>

enum {
    MR_K_NOP = 0, /* RESHAPE whose output aliases its input's memory */
    MR_K_CONV,
    MR_K_MAXPOOL,
    MR_K_FC,
    MR_K_ADD,
    MR_K_SOFTMAX,
    MR_K_COPY /* RESHAPE of a constant tensor */
};

typedef struct {
    int32_t n, h, w, c;
} mr_shape4_t;

/* Per-output-channel requantization: multiplier and shift, indexed by channel
 * times mult_step (0 when the weights have a single scale). */
typedef struct {
    const int32_t *mult;
    const int8_t *shift;
    int32_t out_zp;
    int32_t act_min, act_max;
    uint8_t mult_step;
} mr_requant_t;

typedef struct {
    const int8_t *in;
    int8_t *out;
    const int8_t *w;     /* [out_c][k_h][k_w][in_c] */
    const int32_t *bias; /* [out_c]: bias + input_offset * sum of the channel's weights */
    mr_requant_t rq;
    mr_shape4_t is, os;
    int32_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
    int32_t in_zp;  /* what a padded input element contributes as */
    int8_t *window; /* k_h * k_w * in_c scratch bytes for border / dilated windows */
} mr_conv_t;

typedef struct {
    const int8_t *in;
    int8_t *out;
    mr_shape4_t is, os;
    int32_t k_h, k_w, stride_h, stride_w, pad_h, pad_w;
    int32_t act_min, act_max;
} mr_pool_t;

typedef struct {
    const int8_t *in;
    int8_t *out;
    const int8_t *w;     /* [out_c][depth] */
    const int32_t *bias; /* [out_c]: bias + input_offset * sum of the row's weights */
    mr_requant_t rq;
    int32_t batches, depth, out_c;
} mr_fc_t;

typedef struct {
    const int8_t *in1, *in2;
    int8_t *out;
    int32_t in1_offset, in2_offset, out_offset;
    int32_t in1_mult, in2_mult, out_mult;
    int8_t in1_shift, in2_shift, out_shift; /* <= 0: right shifts */
    uint8_t broadcast;
    int32_t act_min, act_max;
    int32_t count;                  /* elements, when not broadcasting */
    int32_t dims[4];                /* output extents, when broadcasting */
    int32_t stride1[4], stride2[4]; /* input strides (0 on broadcast axes) */
} mr_add_t;

typedef struct {
    const int8_t *in;
    int8_t *out;
    int32_t rows, depth;
    int32_t input_multiplier, input_left_shift, diff_min;
} mr_softmax_t;

typedef struct {
    const int8_t *in;
    int8_t *out;
    size_t bytes;
} mr_copy_t;

/* One prepared operator: its kind and its parameters (allocated at their own size). */
struct mr_op {
    uint8_t kind;
    const void *params; /* mr_conv_t, mr_pool_t, ... by kind; NULL for MR_K_NOP */
};

void mr_kernel_conv(const mr_conv_t *p);
void mr_kernel_maxpool(const mr_pool_t *p);
void mr_kernel_fc(const mr_fc_t *p);
void mr_kernel_add(const mr_add_t *p);
void mr_kernel_softmax(const mr_softmax_t *p);

#endif /* MR_KERNELS_H */
