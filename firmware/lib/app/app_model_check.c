/* app_model_check.c - the start-up check of the build's model (see app_internal.h and app_model.h). */
#include <string.h>

#include "app_internal.h"
#include "app_sha256.h"
#include "textfmt.h"

_Static_assert(APP_MODEL_MAX_IO <= MR_MAX_IO && APP_MODEL_MAX_DIMS <= MR_MAX_DIMS, "contract limits");

static bool spec_matches(const mr_tensor_t *t, const app_tensor_spec_t *spec)
{
    if (t == NULL || t->dims_count != spec->dims_count || t->type != spec->type || t->scale != spec->scale ||
        t->zero_point != spec->zero_point || spec->dims_count > APP_MODEL_MAX_DIMS) {
        return false;
    }
    for (unsigned i = 0; i < spec->dims_count; i++) {
        if (t->dims[i] != spec->dims[i]) {
            return false;
        }
    }
    return true;
}

/* The refusal: `status` and the text "<what>[ <index>]<why>" (index -1: none). */
static void refuse(app_t *app, app_model_status_t status, const char *what, int32_t index, const char *why)
{
    textfmt_t t;
    textfmt_init(&t, app->model_error, sizeof app->model_error);
    app->model_status = status;
    textfmt_put_str(&t, what);
    if (index >= 0) {
        textfmt_put_str(&t, " ");
        textfmt_put_i32(&t, index);
    }
    textfmt_put_str(&t, why);
}

/* "model array sha256 1a2b3c4d.. is not the build's 5e6f7a8b..": the first 4 bytes of each. */
static void refuse_digest(app_t *app, const uint8_t *digest, const char *want_hex)
{
    char want[9];
    memcpy(want, want_hex, 8);
    want[8] = '\0';
    textfmt_t t;
    textfmt_init(&t, app->model_error, sizeof app->model_error);
    app->model_status = APP_MODEL_SHA256;
    textfmt_put_str(&t, "model array sha256 ");
    textfmt_put_hex(&t, digest, 4u);
    textfmt_put_str(&t, ".. is not the build's ");
    textfmt_put_str(&t, want);
    textfmt_put_str(&t, "..");
}

/* The flatbuffer's tensors against model_data.h, and against what this firmware feeds it and reads from it;
 * sets the input and output tensors and prepares the beat window for the inputs' quantization. */
static void check_contract(app_t *app)
{
    const app_model_t *model = app->model;
    if (app->interp.input_count != model->num_inputs || app->interp.output_count != model->num_outputs ||
        model->num_inputs > APP_MODEL_MAX_IO || model->num_outputs > APP_MODEL_MAX_IO) {
        refuse(app, APP_MODEL_INVALID, "input/output count differs from model_data.h", -1, "");
        return;
    }
    for (unsigned i = 0; i < model->num_inputs; i++) {
        if (!spec_matches(mr_input(&app->interp, i), &model->inputs[i])) {
            refuse(app, APP_MODEL_INVALID, "input", (int32_t)i, ": shape/type/quant differ from model_data.h");
            return;
        }
    }
    for (unsigned i = 0; i < model->num_outputs; i++) {
        if (!spec_matches(mr_output(&app->interp, i), &model->outputs[i])) {
            refuse(app, APP_MODEL_INVALID, "output", (int32_t)i, ": shape/type/quant differ from model_data.h");
            return;
        }
    }
    if (model->beat_input < 0 || model->rr_input < 0 || model->beat_input >= (int)model->num_inputs ||
        model->rr_input >= (int)model->num_inputs || model->beat_input == model->rr_input) {
        refuse(app, APP_MODEL_INVALID, "model_data.h names no beat-window and RR inputs", -1, "");
        return;
    }
    app->in_beat = mr_input(&app->interp, (size_t)model->beat_input);
    app->in_rr = mr_input(&app->interp, (size_t)model->rr_input);
    app->out_scores = mr_output(&app->interp, 0);
    if (app->in_beat->bytes != BW_WINDOW_LEN || app->in_beat->type != MR_TYPE_INT8) {
        refuse(app, APP_MODEL_INVALID, "beat input", model->beat_input, ": not 128 int8 values");
        return;
    }
    if (app->in_rr->bytes != BW_RR_FEATURES || app->in_rr->type != MR_TYPE_INT8) {
        refuse(app, APP_MODEL_INVALID, "RR input", model->rr_input, ": not 3 int8 values");
        return;
    }
    if (app->out_scores->bytes != WIRE_NUM_CLASSES || app->out_scores->type != MR_TYPE_INT8 ||
        model->num_classes != WIRE_NUM_CLASSES) {
        refuse(app, APP_MODEL_INVALID, "output 0: not 5 int8 class scores", -1, "");
        return;
    }
    if (app->out_scores->scale != 1.0f / 256.0f || app->out_scores->zero_point != -128) {
        refuse(app, APP_MODEL_INVALID, "output 0: not softmax scale 1/256, zero point -128", -1, "");
        return;
    }
    bw_status_t bw = beat_window_init(&app->window, app->in_beat->scale, app->in_beat->zero_point, app->in_rr->scale,
                                      app->in_rr->zero_point);
    if (bw != BW_OK) {
        refuse(app, APP_MODEL_INVALID, bw == BW_ERR_QUANT_WINDOW ? "beat input" : "RR input",
               bw == BW_ERR_QUANT_WINDOW ? model->beat_input : model->rr_input, ": not scale 1/128, zero point 0");
    }
}

void app_model_check(app_t *app, uint8_t *arena, size_t arena_len)
{
    const app_model_t *model = app->model;
    app->model_status = APP_MODEL_OK;
    app->model_error[0] = '\0';
    if (model == NULL || model->data == NULL || model->len == 0u) {
        refuse(app, APP_MODEL_INVALID, "no model in this build", -1, "");
        return;
    }
    if (!app_sha256_from_hex(model->sha256_hex, app->model_sha256)) {
        refuse(app, APP_MODEL_SHA256, "the build recorded no valid model sha256", -1, "");
        return;
    }
    uint8_t digest[APP_SHA256_SIZE];
    app_sha256(model->data, model->len, digest);
    if (memcmp(digest, app->model_sha256, sizeof digest) != 0) {
        refuse_digest(app, digest, model->sha256_hex);
        return;
    }

    mr_status_t st = mr_init(&app->interp, model->data, model->len, arena, arena_len);
    if (st != MR_OK) {
        app->model_status = st == MR_UNSUPPORTED_OP    ? APP_MODEL_UNSUPPORTED_OP
                            : st == MR_ARENA_TOO_SMALL ? APP_MODEL_ARENA
                                                       : APP_MODEL_INVALID;
        (void)mr_error_format(&app->interp, app->model_error, sizeof app->model_error);
        return;
    }
    check_contract(app);
}
