/*
 * mr_host_driver - runs firmware/lib/micro_runtime on the host for
 * tests/firmware/test_micro_runtime.py.
 *
 *   mr_host_driver info MODEL [ARENA]
 *       init with an ARENA-byte arena (default 1 MiB); prints key=value lines:
 *       status, reason/error text, arena_used, arena_needed, and per input /
 *       output its index, dims, scale and zero point.
 *   mr_host_driver run MODEL ARENA INPUTS OUTPUTS
 *       INPUTS holds records of all inputs' int8 bytes concatenated in model
 *       input order; each record is run once; OUTPUTS receives the outputs'
 *       bytes concatenated per record. Exit 0 on success.
 *   mr_host_driver prefixes MODEL STEP
 *       mr_init on every prefix of the model whose length is a multiple of
 *       STEP or within 64 bytes of either end, each in a heap block of exactly
 *       that length (so AddressSanitizer sees any read past it); prints a
 *       count per status. Invokes whenever init succeeds.
 *   mr_host_driver mutate MODEL COUNT SEED [MASK]
 *       COUNT copies of the model with 1..4 random bytes changed (random
 *       values or single bit flips); init, and invoke on success with random
 *       inputs; prints a count per status. MASK, a file as long as the model,
 *       limits the changes to the bytes where it is non-zero (e.g. everything
 *       but the weights, to aim at the flatbuffer's structure).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "micro_runtime.h"

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    const long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1u);
    if (buf == NULL || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void print_tensor(const char *kind, size_t i, const mr_tensor_t *t)
{
    printf("%s%zu_tensor=%d\n%s%zu_bytes=%zu\n%s%zu_dims=", kind, i, t->tensor_index, kind, i, t->bytes, kind, i);
    for (uint8_t d = 0; d < t->dims_count; ++d) {
        printf(d ? ",%d" : "%d", (int)t->dims[d]);
    }
    printf("\n%s%zu_scale=%.9g\n%s%zu_zero_point=%d\n", kind, i, (double)t->scale, kind, i, (int)t->zero_point);
}

static int cmd_info(const char *path, size_t arena_len)
{
    size_t len;
    uint8_t *model = read_file(path, &len);
    uint8_t *arena = malloc(arena_len ? arena_len : 1u);
    mr_interpreter_t it;
    char text[160];
    const mr_status_t st = mr_init(&it, model, len, arena_len ? arena : NULL, arena_len);
    mr_error_format(&it, text, sizeof text);
    printf("status=%s\nerror=%s\nop_index=%d\nop_code=%d\ntensor_index=%d\narena_used=%zu\n"
           "arena_needed=%zu\narena_persistent=%zu\narena_activations=%zu\n",
           mr_status_str(st), text, (int)it.error.op_index, (int)it.error.op_code, (int)it.error.tensor_index,
           it.arena_used, it.arena_needed, it.arena_persistent, it.arena_activations);
    if (st == MR_OK) {
        printf("inputs=%u\noutputs=%u\n", it.input_count, it.output_count);
        for (size_t i = 0; i < it.input_count; ++i) {
            print_tensor("input", i, mr_input(&it, i));
        }
        for (size_t i = 0; i < it.output_count; ++i) {
            print_tensor("output", i, mr_output(&it, i));
        }
    }
    free(arena);
    free(model);
    return 0;
}

static int cmd_run(const char *path, size_t arena_len, const char *in_path, const char *out_path)
{
    size_t len, in_len;
    uint8_t *model = read_file(path, &len);
    uint8_t *inputs = read_file(in_path, &in_len);
    uint8_t *arena = malloc(arena_len);
    mr_interpreter_t it;
    mr_status_t st = mr_init(&it, model, len, arena, arena_len);
    if (st != MR_OK) {
        char text[160];
        mr_error_format(&it, text, sizeof text);
        fprintf(stderr, "mr_init: %s\n", text);
        return 1;
    }
    size_t record_in = 0, record_out = 0;
    for (size_t i = 0; i < it.input_count; ++i) {
        record_in += mr_input(&it, i)->bytes;
    }
    for (size_t i = 0; i < it.output_count; ++i) {
        record_out += mr_output(&it, i)->bytes;
    }
    if (record_in == 0 || in_len % record_in != 0) {
        fprintf(stderr, "input file size %zu is not a multiple of %zu\n", in_len, record_in);
        return 1;
    }
    FILE *out = fopen(out_path, "wb");
    if (out == NULL) {
        fprintf(stderr, "cannot write %s\n", out_path);
        return 2;
    }
    for (size_t r = 0; r < in_len / record_in; ++r) {
        const uint8_t *src = inputs + r * record_in;
        for (size_t i = 0; i < it.input_count; ++i) {
            memcpy(mr_input(&it, i)->data, src, mr_input(&it, i)->bytes);
            src += mr_input(&it, i)->bytes;
        }
        st = mr_invoke(&it);
        if (st != MR_OK) {
            fprintf(stderr, "mr_invoke: %s\n", mr_status_str(st));
            return 1;
        }
        for (size_t i = 0; i < it.output_count; ++i) {
            fwrite(mr_output(&it, i)->data, 1, mr_output(&it, i)->bytes, out);
        }
    }
    fclose(out);
    (void)record_out;
    free(arena);
    free(inputs);
    free(model);
    return 0;
}

/* xorshift32: deterministic, no libc state */
static uint32_t next_random(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

static size_t counts[MR_NOT_READY + 1];

/* init on `model` (exactly `len` heap bytes); on success init again in a heap
 * arena of exactly arena_used bytes (so AddressSanitizer sees any write past
 * the plan), check one byte less is refused, and invoke with random inputs. */
static void try_model(const uint8_t *model, size_t len, uint8_t *arena, size_t arena_len, uint32_t *rng)
{
    mr_interpreter_t it;
    char text[160];
    const mr_status_t st = mr_init(&it, model, len, arena, arena_len);
    mr_error_format(&it, text, sizeof text); /* must not crash either */
    if (st > MR_NOT_READY || it.error.reason == NULL) {
        fprintf(stderr, "bad status %d\n", (int)st);
        abort();
    }
    counts[st]++;
    if (st == MR_OK) {
        const size_t used = it.arena_used;
        uint8_t *exact = malloc(used); /* malloc: 16-byte aligned, no lead bytes */
        if (mr_init(&it, model, len, exact, used - 1u) != MR_ARENA_TOO_SMALL) {
            fprintf(stderr, "arena_used - 1 bytes accepted\n");
            abort();
        }
        if (mr_init(&it, model, len, exact, used) != MR_OK || it.arena_used != used) {
            fprintf(stderr, "arena_used bytes refused\n");
            abort();
        }
        for (size_t i = 0; i < it.input_count; ++i) {
            const mr_tensor_t *t = mr_input(&it, i);
            for (size_t k = 0; k < t->bytes; ++k) {
                t->data[k] = (int8_t)(next_random(rng) & 0xFFu);
            }
        }
        if (mr_invoke(&it) != MR_OK) {
            abort();
        }
        free(exact);
    }
}

static void print_counts(void)
{
    for (int s = 0; s <= MR_NOT_READY; ++s) {
        printf("%s=%zu\n", mr_status_str((mr_status_t)s), counts[s]);
    }
}

static int cmd_prefixes(const char *path, size_t step)
{
    size_t len;
    uint8_t *model = read_file(path, &len);
    const size_t arena_len = 1u << 20;
    uint8_t *arena = malloc(arena_len);
    uint32_t rng = 12345u;
    for (size_t n = 0; n <= len; ++n) {
        if (!(n % step == 0 || n < 64 || n + 64 > len)) {
            continue;
        }
        uint8_t *copy = malloc(n ? n : 1u);
        memcpy(copy, model, n);
        try_model(copy, n, arena, arena_len, &rng);
        free(copy);
    }
    print_counts();
    free(arena);
    free(model);
    return 0;
}

static int cmd_mutate(const char *path, size_t count, uint32_t seed, const char *mask_path)
{
    size_t len;
    uint8_t *model = read_file(path, &len);
    size_t *where = malloc(len * sizeof *where); /* the positions that may change */
    size_t n_where = 0;
    if (mask_path != NULL) {
        size_t mask_len;
        uint8_t *mask = read_file(mask_path, &mask_len);
        if (mask_len != len) {
            fprintf(stderr, "mask length %zu differs from the model's %zu\n", mask_len, len);
            return 2;
        }
        for (size_t i = 0; i < len; ++i) {
            if (mask[i]) {
                where[n_where++] = i;
            }
        }
        free(mask);
    } else {
        for (size_t i = 0; i < len; ++i) {
            where[n_where++] = i;
        }
    }
    if (n_where == 0) {
        fprintf(stderr, "nothing to mutate\n");
        return 2;
    }
    const size_t arena_len = 1u << 20;
    uint8_t *arena = malloc(arena_len);
    uint32_t rng = seed ? seed : 1u;
    uint8_t *copy = malloc(len);
    for (size_t k = 0; k < count; ++k) {
        memcpy(copy, model, len);
        const uint32_t changes = 1u + next_random(&rng) % 4u;
        for (uint32_t j = 0; j < changes; ++j) {
            const size_t at = where[next_random(&rng) % n_where];
            if (next_random(&rng) & 1u) {
                copy[at] ^= (uint8_t)(1u << (next_random(&rng) % 8u));
            } else {
                copy[at] = (uint8_t)next_random(&rng);
            }
        }
        try_model(copy, len, arena, arena_len, &rng);
    }
    print_counts();
    free(where);
    free(copy);
    free(arena);
    free(model);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "info") == 0) {
        return cmd_info(argv[2], argc >= 4 ? strtoul(argv[3], NULL, 10) : (1u << 20));
    }
    if (argc == 6 && strcmp(argv[1], "run") == 0) {
        return cmd_run(argv[2], strtoul(argv[3], NULL, 10), argv[4], argv[5]);
    }
    if (argc == 4 && strcmp(argv[1], "prefixes") == 0) {
        const size_t step = strtoul(argv[3], NULL, 10);
        return cmd_prefixes(argv[2], step ? step : 1u);
    }
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "mutate") == 0) {
        return cmd_mutate(argv[2], strtoul(argv[3], NULL, 10), (uint32_t)strtoul(argv[4], NULL, 10),
                          argc == 6 ? argv[5] : NULL);
    }
    fprintf(stderr,
            "usage: %s info MODEL [ARENA] | run MODEL ARENA IN OUT | prefixes MODEL STEP | "
            "mutate MODEL COUNT SEED [MASK]\n",
            argv[0]);
    return 2;
}
