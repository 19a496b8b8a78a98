/* app_model.c - the build's model (firmware/lib/model_data, generated from models/current). */
#include "app_model.h"

#include "model_data.h"

_Static_assert(HB_MODEL_NUM_INPUTS >= 1 && HB_MODEL_NUM_INPUTS <= (int)APP_MODEL_MAX_IO,
               "model_data.h: unsupported number of inputs");
_Static_assert(HB_MODEL_NUM_OUTPUTS >= 1 && HB_MODEL_NUM_OUTPUTS <= (int)APP_MODEL_MAX_IO,
               "model_data.h: unsupported number of outputs");
_Static_assert(HB_MODEL_DATA_ALIGN >= 4, "the model array must be at least 4-byte aligned");

#define SPEC(kind, i)                                  \
    {                                                  \
        .dims_count = HB_MODEL_##kind##i##_DIMS_COUNT, \
        .dims = HB_MODEL_##kind##i##_DIMS,             \
        .type = HB_MODEL_##kind##i##_TYPE,             \
        .scale = HB_MODEL_##kind##i##_SCALE,           \
        .zero_point = HB_MODEL_##kind##i##_ZERO_POINT, \
    }

static const app_model_t s_builtin = {
    .data = g_model_data,
    .len = HB_MODEL_DATA_LEN,
    .version = HB_MODEL_VERSION,
    .sha256_hex = HB_MODEL_SHA256,
    .arena_bytes = HB_MODEL_ARENA_BYTES,
    .num_inputs = HB_MODEL_NUM_INPUTS,
    .num_outputs = HB_MODEL_NUM_OUTPUTS,
    .beat_input = HB_MODEL_BEAT_INPUT_INDEX,
    .rr_input = HB_MODEL_RR_INPUT_INDEX,
    .num_classes = HB_MODEL_NUM_CLASSES,
    .inputs =
        {
            SPEC(INPUT, 0),
#if HB_MODEL_NUM_INPUTS > 1
            SPEC(INPUT, 1),
#endif
#if HB_MODEL_NUM_INPUTS > 2
            SPEC(INPUT, 2),
#endif
#if HB_MODEL_NUM_INPUTS > 3
            SPEC(INPUT, 3),
#endif
        },
    .outputs =
        {
            SPEC(OUTPUT, 0),
#if HB_MODEL_NUM_OUTPUTS > 1
            SPEC(OUTPUT, 1),
#endif
#if HB_MODEL_NUM_OUTPUTS > 2
            SPEC(OUTPUT, 2),
#endif
#if HB_MODEL_NUM_OUTPUTS > 3
            SPEC(OUTPUT, 3),
#endif
        },
};

const app_model_t *app_builtin_model(void)
{
    return &s_builtin;
}
