/*
 * test_planner - the arena planner of micro_runtime (firmware/lib/micro_runtime/mr_planner.h) on its own: hand
 * made graphs with known answers, the graph errors it must refuse, and thousands of random graphs on which
 * every placement is checked: tensors alive at the same time never share a byte, offsets and sizes are
 * aligned, and the activation region it asks for lies between the largest set of bytes alive at once (no plan
 * can be smaller) and the sum of all tensors (no reuse at all). Runs on the host (ASan/UBSan) and in QEMU.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hbtest.h"
#include "mr_planner.h"
#include "port.h"

#define MAX_T 48
#define MAX_OPS 40
#define MAX_READS 3

static mr_plan_t g_plan[MAX_T];
static int16_t g_order[MAX_T];

/* ----------------------------------------------------------------------------------------------------------- */
/* A graph as the interpreter describes it to the planner                                                       */

typedef struct {
    int32_t reads[MAX_READS];
    uint32_t n_reads;
    int32_t out;
    int32_t share; /* -1, or the input whose memory the output keeps (a RESHAPE) */
} op_desc_t;

typedef struct {
    uint32_t n_tensors;
    uint32_t sizes[MAX_T];
    int32_t inputs[2];
    uint32_t n_inputs;
    op_desc_t ops[MAX_OPS];
    uint32_t n_ops;
    int32_t outputs[2];
    uint32_t n_outputs;
} graph_t;

static graph_t g_graph;

/* Describes graph `g` to the planner and places it; returns the peak, or SIZE_MAX if a step was refused. */
static size_t plan(const graph_t *g)
{
    mr_plan_init(g_plan, g->n_tensors);
    for (uint32_t i = 0; i < g->n_inputs; i++) {
        if (!mr_plan_graph_input(g_plan, g->inputs[i])) {
            return SIZE_MAX;
        }
    }
    for (uint32_t o = 0; o < g->n_ops; o++) {
        const op_desc_t *op = &g->ops[o];
        for (uint32_t r = 0; r < op->n_reads; r++) {
            if (!mr_plan_read(g_plan, op->reads[r], (int32_t)o)) {
                return SIZE_MAX;
            }
        }
        if (!mr_plan_write(g_plan, op->out, (int32_t)o, op->share)) {
            return SIZE_MAX;
        }
    }
    for (uint32_t i = 0; i < g->n_outputs; i++) {
        if (!mr_plan_graph_output(g_plan, g->outputs[i], (int32_t)g->n_ops)) {
            return SIZE_MAX;
        }
    }
    for (uint32_t t = 0; t < g->n_tensors; t++) {
        if (mr_plan_allocated(g_plan, (int32_t)t)) {
            mr_plan_set_bytes(g_plan, (int32_t)t, g->sizes[t]);
        }
    }
    return mr_plan_place(g_plan, g->n_tensors, g_order);
}

static bool alive_together(const mr_plan_t *a, const mr_plan_t *b)
{
    return !(a->last < b->first || b->last < a->first);
}

/* Every property a placement must have; false (and a line naming it) when one fails. */
static bool placement_is_sound(const graph_t *g, size_t peak)
{
    size_t end = 0u, total = 0u, widest = 0u;
    for (uint32_t t = 0; t < g->n_tensors; t++) {
        const mr_plan_t *p = &g_plan[t];
        if (!mr_plan_allocated(g_plan, (int32_t)t)) {
            if (p->bytes != 0u) {
                hbtest_print("  a tensor without memory of its own has bytes\n");
                return false;
            }
            continue;
        }
        if (p->bytes < g->sizes[t] || p->bytes % MR_PLAN_ALIGN != 0u || p->offset % MR_PLAN_ALIGN != 0u ||
            p->bytes >= g->sizes[t] + MR_PLAN_ALIGN) {
            hbtest_print("  tensor bytes or offset not aligned, or too small\n");
            return false;
        }
        total += p->bytes;
        if ((size_t)p->offset + p->bytes > end) {
            end = (size_t)p->offset + p->bytes;
        }
        for (uint32_t u = t + 1u; u < g->n_tensors; u++) {
            const mr_plan_t *q = &g_plan[u];
            if (mr_plan_allocated(g_plan, (int32_t)u) && alive_together(p, q) && p->offset < q->offset + q->bytes &&
                q->offset < p->offset + p->bytes) {
                hbtest_print("  tensors ");
                hbtest_print_u32(t);
                hbtest_print(" and ");
                hbtest_print_u32(u);
                hbtest_print(" are alive together and overlap\n");
                return false;
            }
        }
    }
    /* the bytes alive at each step: no plan can be smaller than the most of them */
    for (int32_t o = 0; o <= (int32_t)g->n_ops; o++) {
        size_t live = 0u;
        for (uint32_t t = 0; t < g->n_tensors; t++) {
            const mr_plan_t *p = &g_plan[t];
            if (mr_plan_allocated(g_plan, (int32_t)t) && p->first <= o && o <= p->last) {
                live += p->bytes;
            }
        }
        widest = live > widest ? live : widest;
    }
    if (peak != end || peak < widest || peak > total) {
        hbtest_print("  peak ");
        hbtest_print_u32((uint32_t)peak);
        hbtest_print(" outside [");
        hbtest_print_u32((uint32_t)widest);
        hbtest_print(", ");
        hbtest_print_u32((uint32_t)total);
        hbtest_print("] or not the end of the last tensor\n");
        return false;
    }
    /* whatever reads a tensor finds its memory (its root's) alive at that step */
    for (uint32_t o = 0; o < g->n_ops; o++) {
        for (uint32_t r = 0; r < g->ops[o].n_reads; r++) {
            const mr_plan_t *root = &g_plan[g_plan[g->ops[o].reads[r]].alias];
            if (root->first > (int32_t)o || root->last < (int32_t)o ||
                mr_plan_offset(g_plan, g->ops[o].reads[r]) != root->offset) {
                hbtest_print("  a tensor is read outside its memory's lifetime\n");
                return false;
            }
        }
    }
    return true;
}

static void add_op(graph_t *g, int32_t out, int32_t share, uint32_t n_reads, const int32_t *reads)
{
    op_desc_t *op = &g->ops[g->n_ops++];
    op->n_reads = n_reads;
    memcpy(op->reads, reads, n_reads * sizeof reads[0]);
    op->out = out;
    op->share = share;
}

/* ----------------------------------------------------------------------------------------------------------- */

/* input t0 (100) -> op0 -> t1 (200) -> op1 -> t2 (50) -> op2 -> t3 (10), the output */
static void chain(graph_t *g)
{
    static const uint32_t sizes[] = {100u, 200u, 50u, 10u};
    memset(g, 0, sizeof *g);
    g->n_tensors = 4u;
    memcpy(g->sizes, sizes, sizeof sizes);
    g->inputs[g->n_inputs++] = 0;
    for (int32_t t = 0; t < 3; t++) {
        add_op(g, t + 1, -1, 1u, &t);
    }
    g->outputs[g->n_outputs++] = 3;
}

static void test_a_chain_needs_only_its_widest_step(hbtest_t *t)
{
    chain(&g_graph);
    size_t peak = plan(&g_graph);
    HBTEST_CHECK(t, placement_is_sound(&g_graph, peak));
    HBTEST_CHECK(t, peak == 300u); /* t0 and t1 alive together at op 0; t3 reuses t1's bytes */
    HBTEST_CHECK(t, g_plan[1].offset == 0u && g_plan[3].offset == 0u);
    HBTEST_CHECK(t, g_plan[2].bytes == 52u && g_plan[3].bytes == 12u); /* rounded up to MR_PLAN_ALIGN */
    HBTEST_CHECK(t, g_plan[0].first == 0 && g_plan[0].last == 0 && g_plan[3].last == 3);
}

static void test_a_reshape_keeps_its_input_memory_alive(hbtest_t *t)
{
    /* input t0 (64) -> op0 conv -> t1 (64) -> op1 reshape -> t2 -> op2 fc -> t3 (8) -> op3 -> t4 (8), output */
    graph_t *g = &g_graph;
    memset(g, 0, sizeof *g);
    g->n_tensors = 5u;
    g->sizes[0] = 64u;
    g->sizes[1] = 64u;
    g->sizes[2] = 64u;
    g->sizes[3] = 8u;
    g->sizes[4] = 8u;
    g->inputs[g->n_inputs++] = 0;
    const int32_t r0 = 0, r1 = 1, r2 = 2, r3 = 3;
    add_op(g, 1, -1, 1u, &r0);
    add_op(g, 2, 1, 1u, &r1);
    add_op(g, 3, -1, 1u, &r2);
    add_op(g, 4, -1, 1u, &r3);
    g->outputs[g->n_outputs++] = 4;
    size_t peak = plan(g);
    HBTEST_CHECK(t, placement_is_sound(g, peak));
    HBTEST_CHECK(t, !mr_plan_allocated(g_plan, 2) && g_plan[2].bytes == 0u);
    HBTEST_CHECK(t, mr_plan_offset(g_plan, 2) == mr_plan_offset(g_plan, 1));
    HBTEST_CHECK(t, g_plan[1].first == 0 && g_plan[1].last == 2); /* read through t2 by op 2 */
    /* t3 is computed at op 2 while t1's bytes are still read: they must not overlap */
    HBTEST_CHECK(t, g_plan[3].offset >= g_plan[1].offset + g_plan[1].bytes ||
                        g_plan[1].offset >= g_plan[3].offset + g_plan[3].bytes);
}

static void test_a_graph_that_cannot_run_is_refused(hbtest_t *t)
{
    mr_plan_init(g_plan, 4u);
    HBTEST_CHECK(t, mr_plan_graph_input(g_plan, 0));
    HBTEST_CHECK(t, !mr_plan_graph_input(g_plan, 0));  /* listed twice */
    HBTEST_CHECK(t, !mr_plan_read(g_plan, 1, 0));      /* nothing computed t1 yet */
    HBTEST_CHECK(t, !mr_plan_write(g_plan, 0, 0, -1)); /* overwrites a graph input */
    HBTEST_CHECK(t, mr_plan_write(g_plan, 1, 0, -1));
    HBTEST_CHECK(t, !mr_plan_write(g_plan, 1, 1, -1));    /* computed twice */
    HBTEST_CHECK(t, !mr_plan_graph_output(g_plan, 2, 2)); /* never computed */
    HBTEST_CHECK(t, mr_plan_graph_output(g_plan, 1, 2));
    HBTEST_CHECK(t, !mr_plan_allocated(g_plan, 3)); /* unused */
    HBTEST_CHECK(t, mr_plan_scratch_bytes(4u) == 4u * (sizeof(mr_plan_t) + sizeof(int16_t)));
}

/* xorshift32: deterministic */
static uint32_t g_rng = 0x9E3779B9u;

static uint32_t below(uint32_t n)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 17;
    g_rng ^= g_rng << 5;
    return g_rng % n;
}

/* Random graph: 1-2 inputs, then operators that each read 1-3 tensors computed before (the last computed
 * one always, so most tensors die soon), a quarter of them RESHAPEs sharing their input's memory. */
static void random_graph(graph_t *g)
{
    memset(g, 0, sizeof *g);
    g->n_inputs = 1u + below(2u);
    uint32_t n = g->n_inputs;
    for (uint32_t i = 0; i < g->n_inputs; i++) {
        g->inputs[i] = (int32_t)i;
    }
    uint32_t ops = 1u + below(MAX_OPS);
    for (uint32_t o = 0; o < ops && n < MAX_T; o++) {
        int32_t reads[MAX_READS];
        uint32_t n_reads = 1u + below(MAX_READS);
        reads[0] = (int32_t)(n - 1u);
        for (uint32_t r = 1; r < n_reads; r++) {
            reads[r] = (int32_t)below(n);
        }
        bool reshape = below(4u) == 0u;
        add_op(g, (int32_t)n, reshape ? reads[0] : -1, reshape ? 1u : n_reads, reads);
        n++;
    }
    g->n_tensors = n + below(3u); /* and a few tensors nobody uses */
    g->outputs[g->n_outputs++] = (int32_t)(n - 1u);
    if (below(2u) == 0u && n > 2u) {
        g->outputs[g->n_outputs++] = (int32_t)below(n - 1u); /* kept alive to the end */
    }
    for (uint32_t t = 0; t < g->n_tensors; t++) {
        g->sizes[t] = 1u + below(below(4u) == 0u ? 20000u : 600u);
    }
}

static void test_random_graphs_are_placed_soundly(hbtest_t *t)
{
#if defined(__arm__)
    const uint32_t graphs = 300u;
#else
    const uint32_t graphs = 5000u;
#endif
    uint32_t unsound = 0u, refused = 0u;
    for (uint32_t k = 0; k < graphs; k++) {
        random_graph(&g_graph);
        size_t peak = plan(&g_graph);
        if (peak == SIZE_MAX) {
            refused++;
        } else if (!placement_is_sound(&g_graph, peak)) {
            unsound++;
        }
    }
    HBTEST_CHECK(t, refused == 0u);
    HBTEST_CHECK(t, unsound == 0u);
}

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    hbtest_run(&t, "a_chain_needs_only_its_widest_step", test_a_chain_needs_only_its_widest_step);
    hbtest_run(&t, "a_reshape_keeps_its_input_memory_alive", test_a_reshape_keeps_its_input_memory_alive);
    hbtest_run(&t, "a_graph_that_cannot_run_is_refused", test_a_graph_that_cannot_run_is_refused);
    hbtest_run(&t, "random_graphs_are_placed_soundly", test_random_graphs_are_placed_soundly);
    port_exit(hbtest_end(&t));
}
