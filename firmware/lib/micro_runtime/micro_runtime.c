/*
 * micro_runtime - the interpreter: mr_init() reads and checks the model and prepares it in the caller's
 * arena, mr_invoke() runs it; see micro_runtime.h and docs/micro_runtime.md. The operators' preparation is
 * in mr_prepare.c, the arena planner in mr_planner.c (the files: mr_internal.h).
 *
 * mr_init() reads the model three times, never writing before it knows the arena is big enough:
 *   1. check: every operator, tensor and option is decoded and checked, and the persistent bytes
 *      (operator records, per-channel constants) counted;
 *   2. plan: in scratch space at the top of the arena, each activation tensor gets its lifetime (first
 *      producer .. last consumer) and an offset (mr_planner.h; RESHAPE outputs share their input's memory);
 *   3. fill: the operator records are written at the bottom of the arena, multipliers computed, data
 *      pointers resolved.
 */
#include "micro_runtime.h"

#include <string.h>

#include "mr_internal.h"
#include "textfmt.h"

#define ARENA_ALIGN 8u /* operator records hold pointers */

mr_status_t mr_fail(mr_ctx_t *c, mr_status_t status, const char *reason, int32_t tensor_index)
{
    mr_error_t *e = &c->it->error;
    e->status = status;
    e->reason = reason;
    e->op_index = c->op_index;
    e->op_code = c->op_code;
    e->tensor_index = tensor_index;
    return status;
}

static size_t align_up(size_t v, size_t a)
{
    return (v + (a - 1u)) & ~(a - 1u);
}

/* Bytes from the persistent region; NULL (counting only) before the fill pass. */
void *mr_take(mr_ctx_t *c, size_t bytes)
{
    void *p = c->fill ? (void *)(c->arena + c->persist) : NULL;
    c->persist += align_up(bytes, ARENA_ALIGN);
    return p;
}

/* --- reading the model --- */

mr_status_t mr_tensor_read(mr_ctx_t *c, int32_t index, mr_model_tensor_t *t)
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
            CHECK(offset <= fb->len && size <= fb->len - offset, MR_BAD_MODEL, "tensor data outside the model", index);
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

/* Data pointer of a tensor (pass 3): constant data or its planned arena slot. */
int8_t *mr_tensor_data(mr_ctx_t *c, const mr_model_tensor_t *t)
{
    if (t->data != NULL) {
        return (int8_t *)(uintptr_t)t->data; /* read only: never an operator output */
    }
    return (int8_t *)(c->act_base + mr_plan_offset(c->plan, t->index));
}

static mr_status_t op_read(mr_ctx_t *c, uint32_t index, mr_model_op_t *op)
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

static mr_status_t read_model(mr_ctx_t *c)
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
        return mr_fail(c, MR_UNSUPPORTED_VERSION, "schema version is not 3", -1);
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
    CHECK(c->inputs.count >= 1u && c->inputs.count <= MR_MAX_IO, MR_BAD_MODEL, "the graph needs 1 to MR_MAX_IO inputs",
          -1);
    CHECK(c->outputs.count >= 1u && c->outputs.count <= MR_MAX_IO, MR_BAD_MODEL,
          "the graph needs 1 to MR_MAX_IO outputs", -1);
    return MR_OK;
}

/* Graph inputs and outputs: int8 activations (pass 1), their views (pass 3). */
static mr_status_t graph_io(mr_ctx_t *c)
{
    for (int k = 0; k < 2; ++k) {
        const mr_fb_vec_t *v = k == 0 ? &c->inputs : &c->outputs;
        for (uint32_t i = 0; i < v->count; ++i) {
            mr_model_tensor_t t;
            TRY(mr_tensor_read(c, mr_fb_vec_i32(&c->fb, v, i), &t));
            TRY(mr_need_output(c, &t)); /* int8, quantized, not constant */
            if (c->fill) {
                mr_tensor_t *view = k == 0 ? &c->it->inputs[i] : &c->it->outputs[i];
                view->data = mr_tensor_data(c, &t);
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

/* Pass 2: the planner learns every tensor's lifetime from a walk of the graph, then each allocated tensor's
 * size. */
static mr_status_t plan_graph(mr_ctx_t *c)
{
    const int32_t n_ops = (int32_t)c->ops.count;
    mr_plan_init(c->plan, c->tensors.count);
    c->op_index = -1;
    c->op_code = -1;
    for (uint32_t i = 0; i < c->inputs.count; ++i) {
        const int32_t t = mr_fb_vec_i32(&c->fb, &c->inputs, i);
        CHECK(mr_plan_graph_input(c->plan, t), MR_BAD_MODEL, "a tensor is listed twice as graph input", t);
    }
    for (uint32_t o = 0; o < c->ops.count; ++o) {
        mr_model_op_t op;
        TRY(op_read(c, o, &op));
        /* Inputs: computed before this op (or constants); extend the reader's lifetime. */
        for (uint32_t i = 0; i < op.ins.count; ++i) {
            const int32_t t = mr_fb_vec_i32(&c->fb, &op.ins, i);
            mr_model_tensor_t ti;
            if (t < 0) {
                continue; /* optional input left out */
            }
            TRY(mr_tensor_read(c, t, &ti));
            if (ti.data != NULL) {
                continue;
            }
            CHECK(mr_plan_read(c->plan, t, (int32_t)o), MR_BAD_MODEL,
                  "operator reads a tensor nothing computed before it", t);
        }
        /* The output: computed once, here; a RESHAPE of an activation keeps its input's bytes. */
        const int32_t t = mr_fb_vec_i32(&c->fb, &op.outs, 0u);
        const int32_t in0 = mr_fb_vec_i32(&c->fb, &op.ins, 0u);
        mr_model_tensor_t tin;
        TRY(mr_tensor_read(c, in0, &tin));
        const int32_t share = op.code == OP_RESHAPE && tin.data == NULL ? in0 : -1;
        CHECK(mr_plan_write(c->plan, t, (int32_t)o, share), MR_BAD_MODEL,
              "a tensor is computed twice (or overwrites a graph input)", t);
    }
    c->op_index = -1;
    c->op_code = -1;
    for (uint32_t i = 0; i < c->outputs.count; ++i) {
        const int32_t t = mr_fb_vec_i32(&c->fb, &c->outputs, i);
        CHECK(mr_plan_graph_output(c->plan, t, n_ops), MR_BAD_MODEL, "a graph output is never computed", t);
    }
    /* Bytes: every tensor with memory of its own. */
    for (uint32_t t = 0; t < c->tensors.count; ++t) {
        if (mr_plan_allocated(c->plan, (int32_t)t)) {
            mr_model_tensor_t ti;
            TRY(mr_tensor_read(c, (int32_t)t, &ti));
            mr_plan_set_bytes(c->plan, (int32_t)t, (size_t)ti.elements);
        }
    }
    return MR_OK;
}

/* --- public API --- */

mr_status_t mr_init(mr_interpreter_t *it, const uint8_t *model, size_t model_len, uint8_t *arena, size_t arena_len)
{
    mr_ctx_t ctx;
    mr_ctx_t *c = &ctx;

    if (it == NULL) {
        return MR_BAD_ARGUMENT;
    }
    memset(it, 0, sizeof *it);
    memset(c, 0, sizeof *c);
    c->it = it;
    c->op_index = -1;
    c->op_code = -1;
    it->error.value = 0;
    (void)mr_fail(c, MR_OK, "ok", -1);
    CHECK(model != NULL && (arena != NULL || arena_len == 0u), MR_BAD_ARGUMENT, "NULL model or arena", -1);
    c->fb.base = model;
    c->fb.len = model_len;

    /* Pass 1: check everything, count the persistent bytes. */
    TRY(read_model(c));
    c->persist = 0u;
    (void)mr_take(c, (size_t)c->ops.count * sizeof(struct mr_op));
    for (uint32_t o = 0; o < c->ops.count; ++o) {
        mr_model_op_t op;
        TRY(op_read(c, o, &op));
        TRY(mr_op_prepare(c, &op, NULL)); /* each checks its input and output counts */
    }
    c->op_index = -1;
    c->op_code = -1;
    TRY(graph_io(c));
    (void)mr_take(c, c->window_bytes);
    const size_t persistent = c->persist;
    const size_t scratch = align_up(mr_plan_scratch_bytes(c->tensors.count), ARENA_ALIGN);

    /* The usable arena: aligned start. */
    const size_t lead =
        arena != NULL ? (size_t)((ARENA_ALIGN - ((uintptr_t)arena & (ARENA_ALIGN - 1u))) & (ARENA_ALIGN - 1u)) : 0u;
    c->arena = arena != NULL ? arena + lead : NULL;
    c->arena_len = arena_len > lead ? (arena_len - lead) & ~(size_t)(ARENA_ALIGN - 1u) : 0u;
    if (persistent + scratch > c->arena_len) {
        it->arena_needed = persistent + scratch + ARENA_ALIGN - 1u;
        return mr_fail(c, MR_ARENA_TOO_SMALL, "arena too small to plan in (arena_needed is a lower bound)", -1);
    }

    /* Pass 2: lifetimes and offsets, in scratch at the top of the arena. */
    c->plan = (mr_plan_t *)(void *)(c->arena + c->arena_len - scratch);
    int16_t *order = (int16_t *)(void *)(c->plan + c->tensors.count);
    TRY(plan_graph(c));
    const size_t activations = align_up(mr_plan_place(c->plan, c->tensors.count, order), ARENA_ALIGN);
    const size_t needed = persistent + (activations > scratch ? activations : scratch);
    if (needed > c->arena_len) {
        it->arena_needed = needed + ARENA_ALIGN - 1u;
        return mr_fail(c, MR_ARENA_TOO_SMALL, "arena too small", -1);
    }

    /* Pass 3: write the operator records; the plan stays readable above them. */
    c->fill = true;
    c->persist = 0u;
    c->act_base = c->arena + persistent;
    struct mr_op *ops = mr_take(c, (size_t)c->ops.count * sizeof(struct mr_op));
    c->window_buf = (int8_t *)c->arena + persistent - align_up(c->window_bytes, ARENA_ALIGN);
    for (uint32_t o = 0; o < c->ops.count; ++o) {
        mr_model_op_t op;
        TRY(op_read(c, o, &op));
        memset(&ops[o], 0, sizeof ops[o]);
        TRY(mr_op_prepare(c, &op, &ops[o]));
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

size_t mr_error_format(const mr_interpreter_t *it, char *buf, size_t buf_len)
{
    textfmt_t t;
    if (buf == NULL || buf_len == 0u) {
        return 0u;
    }
    textfmt_init(&t, buf, buf_len);
    if (it == NULL) {
        textfmt_put_str(&t, "BAD_ARGUMENT: no interpreter");
        return t.len;
    }
    const mr_error_t *e = &it->error;
    textfmt_put_str(&t, mr_status_str(e->status));
    if (e->op_index >= 0) {
        textfmt_put_str(&t, ": op ");
        textfmt_put_i32(&t, e->op_index);
        textfmt_put_str(&t, " code ");
        textfmt_put_i32(&t, e->op_code);
    }
    if (e->tensor_index >= 0) {
        textfmt_put_str(&t, ": tensor ");
        textfmt_put_i32(&t, e->tensor_index);
    }
    if (e->status == MR_UNSUPPORTED_VERSION) {
        textfmt_put_str(&t, ": version ");
        textfmt_put_i32(&t, e->value);
    }
    if (e->status == MR_ARENA_TOO_SMALL) {
        textfmt_put_str(&t, ": need ");
        textfmt_put_i32(&t, it->arena_needed > 0x7FFFFFFFu ? INT32_MAX : (int32_t)it->arena_needed);
        textfmt_put_str(&t, " bytes");
    }
    textfmt_put_str(&t, ": ");
    textfmt_put_str(&t, e->reason != NULL ? e->reason : "");
    return t.len;
}
