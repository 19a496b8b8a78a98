/*
 * test_model_golden - the firmware's int8 runtime on the model compiled into this build, on the golden beats
 * (real MIT-BIH beats, tests/contract/dsp_golden.json): every score must equal what the `tflite-micro`
 * interpreter gave (tests/contract/model_golden.json). Runs on the host and in QEMU.
 */
#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "app_model.h"
#include "hbtest.h"
#include "micro_runtime.h"
#include "model_data.h"
#include "model_golden.h"
#include "port.h"

static alignas(16) uint8_t s_arena[HB_MODEL_ARENA_BYTES];
static mr_interpreter_t s_it;

static void test_golden_scores_belong_to_this_build(hbtest_t *t)
{
    HBTEST_CHECK(t, strcmp(GOLDEN_MODEL_SHA256, HB_MODEL_SHA256) == 0);
    HBTEST_CHECK(t, GOLDEN_CLASSES == HB_MODEL_NUM_CLASSES);
}

static void test_every_golden_score_equals_tflm(hbtest_t *t)
{
    const app_model_t *model = app_builtin_model();
    HBTEST_CHECK(t, model->beat_input >= 0 && model->rr_input >= 0);
    HBTEST_CHECK(t, mr_init(&s_it, model->data, model->len, s_arena, sizeof s_arena) == MR_OK);
    const mr_tensor_t *win = mr_input(&s_it, (size_t)model->beat_input);
    const mr_tensor_t *rr = mr_input(&s_it, (size_t)model->rr_input);
    HBTEST_CHECK(t, win != NULL && rr != NULL && win->bytes == GOLDEN_WINDOW_LEN && rr->bytes == GOLDEN_RR_LEN);
    unsigned mismatched = 0;
    int first = -1;
    for (unsigned b = 0; b < GOLDEN_BEATS; b++) {
        memcpy(win->data, golden_window[b], GOLDEN_WINDOW_LEN);
        memcpy(rr->data, golden_rr[b], GOLDEN_RR_LEN);
        if (mr_invoke(&s_it) != MR_OK) {
            mismatched++;
            continue;
        }
        const int8_t *out = (const int8_t *)mr_output(&s_it, 0)->data;
        if (memcmp(out, golden_scores[b], GOLDEN_CLASSES) != 0) {
            if (first < 0) {
                first = (int)b;
            }
            mismatched++;
        }
    }
    if (first >= 0) {
        hbtest_print("scores differ from TFLM's first at golden beat ");
        hbtest_print_u32((uint32_t)first);
        hbtest_print("\n");
    }
    HBTEST_CHECK(t, first == -1);
    HBTEST_CHECK(t, mismatched == 0);
}

static void test_a_truncated_build_model_is_refused(hbtest_t *t)
{
    const app_model_t *model = app_builtin_model();
    mr_interpreter_t it;
    HBTEST_CHECK(t, mr_init(&it, model->data, model->len / 2u, s_arena, sizeof s_arena) != MR_OK);
    HBTEST_CHECK(t, mr_invoke(&it) != MR_OK);
}

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    hbtest_run(&t, "golden_scores_belong_to_this_build", test_golden_scores_belong_to_this_build);
    hbtest_run(&t, "every_golden_score_equals_tflm", test_every_golden_score_equals_tflm);
    hbtest_run(&t, "a_truncated_build_model_is_refused", test_a_truncated_build_model_is_refused);
    port_exit(hbtest_end(&t));
}
