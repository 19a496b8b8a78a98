/*
 * micro_runtime - a TFLite-Micro-compatible int8 interpreter in portable C11.
 *
 * Runs a .tflite flatbuffer (schema version 3) whose graph holds only the ops
 * CONV_2D, MAX_POOL_2D, RESHAPE, FULLY_CONNECTED, ADD and SOFTMAX on int8
 * tensors, producing outputs equal, bit for bit, to TFLite Micro's reference
 * kernels. Anything else is refused by mr_init() with a status, never run.
 *
 * No malloc, no hidden statics: all state is in the caller's mr_interpreter_t
 * and the caller's arena. The model bytes are untrusted input: every offset
 * and length is checked against model_len before it is read. The model must
 * stay in memory (and unchanged) for as long as the interpreter is used: the
 * weights are read from it in place.
 *
 *   static alignas(8) uint8_t arena[HB_MODEL_ARENA_BYTES];
 *   mr_interpreter_t it;
 *   if (mr_init(&it, g_model_data, g_model_data_len, arena, sizeof arena) != MR_OK) {
 *       char text[96];
 *       mr_error_format(&it, text, sizeof text);   // e.g. for an ERROR frame
 *   }
 *   memcpy(mr_input(&it, 0)->data, window, mr_input(&it, 0)->bytes);
 *   mr_invoke(&it);
 *   const int8_t *scores = mr_output(&it, 0)->data;
 *
 * Inputs must be written before every mr_invoke(): like TFLM, the arena
 * planner reuses an input's memory once the graph no longer needs it.
 *
 * Design notes and the arithmetic: docs/micro_runtime.md.
 */
#ifndef MICRO_RUNTIME_H
#define MICRO_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Compile-time limits (override with -D). */
#ifndef MR_MAX_IO
#define MR_MAX_IO 4 /* graph inputs, and graph outputs, at most */
#endif
#ifndef MR_MAX_DIMS
#define MR_MAX_DIMS 6 /* tensor rank at most */
#endif
#ifndef MR_MAX_TENSORS
#define MR_MAX_TENSORS 1024
#endif
#ifndef MR_MAX_OPS
#define MR_MAX_OPS 1024
#endif

typedef enum {
    MR_OK = 0,
    MR_BAD_ARGUMENT,        /* NULL pointer, index out of range */
    MR_BAD_MODEL,           /* not a well-formed TFLite flatbuffer / graph (reason) */
    MR_UNSUPPORTED_VERSION, /* schema version other than 3 (value = version) */
    MR_UNSUPPORTED_OP,      /* an operator or op option we do not run (op_code, op_index) */
    MR_BAD_TENSOR,          /* type, shape or quantization not supported (tensor_index) */
    MR_ARENA_TOO_SMALL,     /* arena_needed: bytes to pass next time */
    MR_NOT_READY            /* mr_invoke() without a successful mr_init() */
} mr_status_t;

/* TFLite TensorType codes of the types we handle. */
#define MR_TYPE_INT32 2
#define MR_TYPE_INT8 9

/* A graph input or output. */
typedef struct {
    int8_t *data; /* in the arena; inputs are written by the caller */
    size_t bytes; /* elements (int8) */
    int32_t dims[MR_MAX_DIMS];
    uint8_t dims_count;
    uint8_t type;         /* MR_TYPE_INT8 */
    int16_t tensor_index; /* index in the model's subgraph */
    float scale;
    int32_t zero_point;
} mr_tensor_t;

/* Why mr_init() failed (status MR_OK after a successful init). */
typedef struct {
    mr_status_t status;
    const char *reason;   /* static text, never NULL */
    int32_t op_index;     /* operator concerned, -1 if none */
    int32_t op_code;      /* its builtin code (MR_UNSUPPORTED_OP), -1 if none */
    int32_t tensor_index; /* tensor concerned, -1 if none */
    int32_t value;        /* e.g. the schema version found */
} mr_error_t;

struct mr_op; /* private: one prepared operator, kept in the arena */

typedef struct {
    const struct mr_op *ops; /* in the arena */
    uint16_t op_count;
    uint8_t input_count;
    uint8_t output_count;
    uint8_t ready;
    mr_tensor_t inputs[MR_MAX_IO];
    mr_tensor_t outputs[MR_MAX_IO];
    /* Arena bookkeeping (bytes). arena_used: what this model takes from the
     * arena's first 8-byte aligned address: an 8-byte aligned arena of
     * arena_used bytes works (alignas(8)); otherwise add up to 7. After
     * MR_ARENA_TOO_SMALL, arena_needed is the size to pass next, alignment
     * slack included: exact once the arena was big enough to plan in (prepared
     * operators + planning scratch), otherwise a lower bound - so at most three
     * calls, starting from arena_len 0, find the size. */
    size_t arena_used;
    size_t arena_needed;
    size_t arena_persistent;  /* of arena_used: prepared operators and their constants */
    size_t arena_activations; /* of arena_used: the planned activation tensors */
    mr_error_t error;
} mr_interpreter_t;

/* Parse and check the model, prepare every operator and plan the arena.
 * On any failure the interpreter is left not ready and `it->error` says why. */
mr_status_t mr_init(mr_interpreter_t *it, const uint8_t *model, size_t model_len, uint8_t *arena, size_t arena_len);

/* Graph input / output `index` (model order), NULL if out of range or not ready. */
const mr_tensor_t *mr_input(const mr_interpreter_t *it, size_t index);
const mr_tensor_t *mr_output(const mr_interpreter_t *it, size_t index);

/* Run every operator once. MR_NOT_READY if mr_init() did not succeed. */
mr_status_t mr_invoke(mr_interpreter_t *it);

/* "OK", "BAD_MODEL", ... : the status's name. */
const char *mr_status_str(mr_status_t status);

/* One line describing it->error, e.g. "UNSUPPORTED_OP: op 3 code 1: operator not
 * supported", truncated to fit; returns the length written (excluding NUL). */
size_t mr_error_format(const mr_interpreter_t *it, char *buf, size_t buf_len);

#ifdef __cplusplus
}
#endif

#endif /* MICRO_RUNTIME_H */
