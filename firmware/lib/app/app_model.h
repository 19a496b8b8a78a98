/*
 * app_model.h - the model the firmware runs and the contract it must meet.
 *
 * The contract (shapes, types, quantization, which input is which) is what the model card says, generated
 * into model_data.h by the toolchain; app_init() checks the flatbuffer's real tensors against it at
 * start-up and refuses a model that disagrees. app_builtin_model() describes the model compiled into this
 * build (firmware/lib/model_data); tests build other descriptions to prove the refusals.
 */
#ifndef APP_MODEL_H
#define APP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define APP_MODEL_MAX_IO 4u
#define APP_MODEL_MAX_DIMS 6u

typedef struct {
    uint8_t dims_count;
    int32_t dims[APP_MODEL_MAX_DIMS];
    uint8_t type; /* TFLite TensorType code (9 = INT8) */
    float scale;
    int32_t zero_point;
} app_tensor_spec_t;

typedef struct {
    const uint8_t *data; /* the .tflite flatbuffer */
    size_t len;
    const char *version;    /* models/<version> */
    const char *sha256_hex; /* sha256 of `data` as the build recorded it (64 hex digits) */
    size_t arena_bytes;     /* TFLM's arena measurement (ours is never larger) */
    uint8_t num_inputs;
    uint8_t num_outputs;
    int8_t beat_input; /* index of the beat-window input, -1 if none */
    int8_t rr_input;   /* index of the RR-features input, -1 if none */
    uint8_t num_classes;
    app_tensor_spec_t inputs[APP_MODEL_MAX_IO];
    app_tensor_spec_t outputs[APP_MODEL_MAX_IO];
} app_model_t;

/* The model of this build, from model_data.h / model_data.c. */
const app_model_t *app_builtin_model(void);

#ifdef __cplusplus
}
#endif

#endif /* APP_MODEL_H */
