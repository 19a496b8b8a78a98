/*
 * mr_internal.h - what the files of micro_runtime share while mr_init() reads a model (private to the
 * library; micro_runtime.h is the public interface):
 *
 *   micro_runtime.c  the interpreter: mr_init()'s passes over the model (read and check the graph, plan
 *                    the arena, fill the operator records), mr_invoke(), the error text
 *   mr_prepare.c     operator preparation: each operator's checks and derived parameters (quantized
 *                    multipliers, padding, activation ranges, folded biases)
 *   mr_planner.c     the arena planner: tensor lifetimes and offsets
 *   mr_kernels.c     the int8 kernels mr_invoke() runs (mr_fixedpoint.c: their arithmetic)
 *   mr_flatbuffer.c  bounds-checked reading of the flatbuffer
 */
#ifndef MR_INTERNAL_H
#define MR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "micro_runtime.h"
#include "mr_flatbuffer.h"
#include "mr_kernels.h"
#include "mr_planner.h"

/* --- TFLite schema (schema.fbs, version 3): the few ids we read --- */
#define TFLITE_SCHEMA_VERSION 3u

enum { MODEL_VERSION = 0, MODEL_OPERATOR_CODES = 1, MODEL_SUBGRAPHS = 2, MODEL_BUFFERS = 4 };
enum { OPCODE_DEPRECATED_BUILTIN = 0, OPCODE_BUILTIN = 3 };
enum { SUBGRAPH_TENSORS = 0, SUBGRAPH_INPUTS = 1, SUBGRAPH_OUTPUTS = 2, SUBGRAPH_OPERATORS = 3 };
enum {
    TENSOR_SHAPE = 0,
    TENSOR_TYPE = 1,
    TENSOR_BUFFER = 2,
    TENSOR_QUANTIZATION = 4,
    TENSOR_IS_VARIABLE = 5,
    TENSOR_SPARSITY = 6
};
enum { QUANT_SCALE = 2, QUANT_ZERO_POINT = 3, QUANT_DETAILS_TYPE = 4, QUANT_DIMENSION = 6 };
enum { BUFFER_DATA = 0, BUFFER_OFFSET = 1, BUFFER_SIZE = 2 };
enum {
    OPERATOR_OPCODE_INDEX = 0,
    OPERATOR_INPUTS = 1,
    OPERATOR_OUTPUTS = 2,
    OPERATOR_OPTIONS_TYPE = 3,
    OPERATOR_OPTIONS = 4
};

/* BuiltinOperator codes */
enum {
    OP_ADD = 0,
    OP_CONV_2D = 3,
    OP_FULLY_CONNECTED = 9,
    OP_MAX_POOL_2D = 17,
    OP_RESHAPE = 22,
    OP_SOFTMAX = 25,
    OP_CUSTOM = 32
};
/* BuiltinOptions union types */
enum { OPT_CONV_2D = 1, OPT_POOL_2D = 5, OPT_FULLY_CONNECTED = 8, OPT_SOFTMAX = 9, OPT_ADD = 11 };
enum { PADDING_SAME = 0, PADDING_VALID = 1 };
enum { ACT_NONE = 0, ACT_RELU = 1, ACT_RELU_N1_TO_1 = 2, ACT_RELU6 = 3 };

#define MAX_ELEMENTS (1L << 24) /* per tensor; keeps every index computation in int32 */

/* The state of one mr_init(). */
typedef struct {
    mr_interpreter_t *it;
    mr_fb_t fb;
    mr_fb_vec_t opcodes, buffers, tensors, ops, inputs, outputs;
    uint8_t *arena;      /* aligned start */
    size_t arena_len;    /* usable bytes from `arena` */
    bool fill;           /* pass 3: write the records */
    size_t persist;      /* bytes taken at the bottom (pass 1 counts, pass 3 allocates) */
    mr_plan_t *plan;     /* pass 2 and 3: at the top of the arena */
    uint8_t *act_base;   /* pass 3: the activation region */
    size_t window_bytes; /* largest CONV_2D window (k_h * k_w * in_c): one shared scratch */
    int8_t *window_buf;  /* pass 3: that scratch */
    int32_t op_index;    /* operator being checked, for errors */
    int32_t op_code;
} mr_ctx_t;

/* One tensor as read from the model. */
typedef struct {
    int32_t index;
    uint8_t type;
    uint8_t rank;
    int32_t dims[MR_MAX_DIMS];
    int32_t elements;
    const uint8_t *data; /* constant data, NULL for activations */
    size_t data_len;
    uint32_t scale_count;
    uint32_t zero_point_count;
    mr_fb_vec_t scales;
    mr_fb_vec_t zero_points;
    int32_t quantized_dimension;
    float scale;        /* first scale (0 if none) */
    int32_t zero_point; /* first zero point (0 if none) */
} mr_model_tensor_t;

/* One operator as read from the model. */
typedef struct {
    mr_fb_table_t table;
    mr_fb_vec_t ins, outs;
    int32_t code; /* BuiltinOperator */
} mr_model_op_t;

/* Records why mr_init() fails (the operator being read, `tensor_index`) and returns `status`. */
mr_status_t mr_fail(mr_ctx_t *c, mr_status_t status, const char *reason, int32_t tensor_index);

/* In a function with a mr_ctx_t *c: fail unless `cond`; fail on a flatbuffer read; pass a failure on. */
#define CHECK(cond, status, reason, tensor)                  \
    do {                                                     \
        if (!(cond)) {                                       \
            return mr_fail(c, (status), (reason), (tensor)); \
        }                                                    \
    } while (0)
#define CHECK_FB(ok) CHECK((ok), MR_BAD_MODEL, "malformed flatbuffer (offset or length out of bounds)", -1)
#define TRY(expr)                       \
    do {                                \
        const mr_status_t st_ = (expr); \
        if (st_ != MR_OK) {             \
            return st_;                 \
        }                               \
    } while (0)

/* Bytes from the persistent region; NULL (counting only) before the fill pass. */
void *mr_take(mr_ctx_t *c, size_t bytes);

/* Reads and checks tensor `index` of the subgraph. */
mr_status_t mr_tensor_read(mr_ctx_t *c, int32_t index, mr_model_tensor_t *t);

/* Data pointer of a tensor (pass 3): constant data or its planned arena slot. */
int8_t *mr_tensor_data(mr_ctx_t *c, const mr_model_tensor_t *t);

/* An int8 activation computed at run time (an operator's output, a graph input or output). */
mr_status_t mr_need_output(mr_ctx_t *c, const mr_model_tensor_t *t);

/* Checks operator `op` (pass 1: rec NULL, persistent bytes counted) or fills its record (pass 3). */
mr_status_t mr_op_prepare(mr_ctx_t *c, const mr_model_op_t *op, struct mr_op *rec);

#endif /* MR_INTERNAL_H */
