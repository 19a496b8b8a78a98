/*
 * mr_planner - the arena planner of micro_runtime (private to it): which activation tensor lives where.
 *
 * The interpreter walks the graph once and tells the planner what happens to each tensor: the graph's
 * inputs exist before operator 0, each operator reads some tensors and computes one, a RESHAPE of an
 * activation may share its input's memory, and the graph's outputs stay alive after the last operator.
 * From that the planner knows each tensor's lifetime (first producer .. last consumer; shared memory is
 * kept by its root tensor, whose lifetime covers every tensor sharing it) and, once the interpreter has
 * given the allocated tensors their sizes, places them: greedy first fit, largest tensor first, among the
 * tensors whose lifetimes overlap; offsets are multiples of MR_PLAN_ALIGN from the activation region's start.
 *
 * No malloc: the plan is an array of mr_plan_t (one per tensor of the subgraph) plus an int16_t array of
 * the same count, both the caller's (mr_init keeps them in scratch at the top of the arena,
 * mr_plan_scratch_bytes()). Tensor indices are at most INT16_MAX.
 */
#ifndef MR_PLANNER_H
#define MR_PLANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MR_PLAN_ALIGN 4u /* bytes: offsets and sizes of the planned tensors */

/* One tensor of the plan. */
typedef struct {
    uint32_t bytes;  /* arena bytes (a multiple of MR_PLAN_ALIGN), 0 when not allocated */
    uint32_t offset; /* planned, from the activation region's start */
    int32_t first;   /* producing op (0 for graph inputs), -1 while unused or sharing another's memory */
    int32_t last;    /* last op reading it (op_count for graph outputs) */
    int16_t alias;   /* tensor whose memory this one uses (itself normally) */
    uint8_t flags;   /* MR_PLAN_* */
    uint8_t pad_;
} mr_plan_t;

enum { MR_PLAN_PRODUCED = 1u, MR_PLAN_GRAPH_INPUT = 2u, MR_PLAN_PLACED = 8u };

/* Bytes of plan and order for `count` tensors, before alignment. */
size_t mr_plan_scratch_bytes(uint32_t count);

/* Every tensor unused, in its own memory. */
void mr_plan_init(mr_plan_t *plan, uint32_t count);

/* Tensor t is a graph input: alive from before operator 0. false if it is listed twice. */
bool mr_plan_graph_input(mr_plan_t *plan, int32_t t);

/* Operator `op` reads activation t: its memory stays alive up to `op`. false if nothing computed t before
 * `op` and it is no graph input. */
bool mr_plan_read(mr_plan_t *plan, int32_t t, int32_t op);

/* Operator `op` computes t, in its own memory, or in the memory of `share` (>= 0: a RESHAPE whose input is
 * `share`). false if t was computed before or is a graph input. */
bool mr_plan_write(mr_plan_t *plan, int32_t t, int32_t op, int32_t share);

/* Tensor t is a graph output: its memory stays alive after the last operator (op_count). false if t is
 * never computed (nor a graph input). */
bool mr_plan_graph_output(mr_plan_t *plan, int32_t t, int32_t op_count);

/* Whether tensor t needs memory of its own: it is a root (shares nobody's) and alive at some point. */
bool mr_plan_allocated(const mr_plan_t *plan, int32_t t);

/* The size of an allocated tensor t, in bytes (rounded up to MR_PLAN_ALIGN). */
void mr_plan_set_bytes(mr_plan_t *plan, int32_t t, size_t bytes);

/* Places every allocated tensor (`order` is scratch for `count` indices); returns the peak: the bytes the
 * activation region needs. */
size_t mr_plan_place(mr_plan_t *plan, uint32_t count, int16_t *order);

/* Offset of tensor t's memory (its root's) from the activation region's start, after mr_plan_place(). */
uint32_t mr_plan_offset(const mr_plan_t *plan, int32_t t);

#ifdef __cplusplus
}
#endif

#endif /* MR_PLANNER_H */
