/* mr_planner.c - see mr_planner.h. */
#include "mr_planner.h"

#include <string.h>

static int16_t root_of(const mr_plan_t *plan, int32_t t)
{
    return plan[t].alias;
}

size_t mr_plan_scratch_bytes(uint32_t count)
{
    return (size_t)count * (sizeof(mr_plan_t) + sizeof(int16_t));
}

void mr_plan_init(mr_plan_t *plan, uint32_t count)
{
    for (uint32_t t = 0; t < count; ++t) {
        plan[t] = (mr_plan_t){0u, 0u, -1, -1, (int16_t)t, 0u, 0u};
    }
}

bool mr_plan_graph_input(mr_plan_t *plan, int32_t t)
{
    if (plan[t].flags & MR_PLAN_GRAPH_INPUT) {
        return false;
    }
    plan[t].flags |= MR_PLAN_GRAPH_INPUT;
    plan[t].first = 0;
    plan[t].last = 0;
    return true;
}

bool mr_plan_read(mr_plan_t *plan, int32_t t, int32_t op)
{
    if (!(plan[t].flags & (MR_PLAN_PRODUCED | MR_PLAN_GRAPH_INPUT))) {
        return false;
    }
    plan[root_of(plan, t)].last = op;
    return true;
}

bool mr_plan_write(mr_plan_t *plan, int32_t t, int32_t op, int32_t share)
{
    if (plan[t].flags & (MR_PLAN_PRODUCED | MR_PLAN_GRAPH_INPUT)) {
        return false;
    }
    plan[t].flags |= MR_PLAN_PRODUCED;
    if (share >= 0) {
        plan[t].alias = root_of(plan, share); /* same bytes, new shape: share the memory */
    } else {
        plan[t].first = op;
        plan[t].last = op;
    }
    return true;
}

bool mr_plan_graph_output(mr_plan_t *plan, int32_t t, int32_t op_count)
{
    if (!(plan[t].flags & (MR_PLAN_PRODUCED | MR_PLAN_GRAPH_INPUT))) {
        return false;
    }
    plan[root_of(plan, t)].last = op_count; /* alive after the last operator */
    return true;
}

bool mr_plan_allocated(const mr_plan_t *plan, int32_t t)
{
    return plan[t].alias == (int16_t)t && plan[t].first >= 0;
}

void mr_plan_set_bytes(mr_plan_t *plan, int32_t t, size_t bytes)
{
    plan[t].bytes = (uint32_t)((bytes + (MR_PLAN_ALIGN - 1u)) & ~(size_t)(MR_PLAN_ALIGN - 1u));
}

size_t mr_plan_place(mr_plan_t *plan, uint32_t count, int16_t *order)
{
    uint32_t placed = 0u;
    size_t peak = 0u;
    for (;;) {
        int32_t best = -1;
        for (uint32_t t = 0; t < count; ++t) {
            const mr_plan_t *p = &plan[t];
            if (p->bytes > 0u && !(p->flags & MR_PLAN_PLACED) && (best < 0 || p->bytes > plan[best].bytes)) {
                best = (int32_t)t;
            }
        }
        if (best < 0) {
            break;
        }
        mr_plan_t *b = &plan[best];
        uint32_t offset = 0u;
        uint32_t at = 0u; /* insertion position in `order`, which keeps the placed tensors sorted by offset */
        for (uint32_t k = 0; k < placed; ++k) {
            const mr_plan_t *q = &plan[order[k]];
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
        while (at < placed && plan[order[at]].offset <= offset) {
            ++at;
        }
        memmove(&order[at + 1u], &order[at], (size_t)(placed - at) * sizeof order[0]);
        order[at] = (int16_t)best;
        ++placed;
        b->offset = offset;
        b->flags |= MR_PLAN_PLACED;
        if ((size_t)offset + b->bytes > peak) {
            peak = (size_t)offset + b->bytes;
        }
    }
    return peak;
}

uint32_t mr_plan_offset(const mr_plan_t *plan, int32_t t)
{
    return plan[root_of(plan, t)].offset;
}
