/*
 * test_app - the device application (firmware/lib/app) with the real modules and the build's real model,
 * on the host (AddressSanitizer, UBSan) and in QEMU. Everything the application sends is captured and
 * decoded with the wire library's own decoder (device -> host direction), as the bridge would.
 *
 * The ECG here is synthetic (a QRS-like spike train on a flat baseline) because the point is the
 * application's behaviour; the software-in-the-loop test (tests/firmware/test_sil.py) runs a real MIT-BIH
 * record through the real image and compares every beat with the toolchain's twin.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "app.h"
#include "app_sha256.h"
#include "hbtest.h"
#include "model_data.h"
#include "port.h"
#include "textfmt.h"
#include "wire.h"

/* ------------------------------------------------------------------------------------------------ */
/* The application under test and what it sent                                                      */

static app_t g_app;
static _Alignas(16) uint8_t g_arena[HB_MODEL_ARENA_BYTES];

#define OUT_CAP (256u * 1024u)
static uint8_t g_out[OUT_CAP];
static size_t g_out_len;
static bool g_out_overflow;

#define MAX_FRAMES 1400u
typedef struct {
    uint32_t seq;
    wire_msg_t msg;
    size_t offset; /* of its encoded bytes in g_out (after the previous delimiter) */
    size_t len;    /* encoded bytes including its delimiter */
} frame_t;
static frame_t g_frames[MAX_FRAMES];
static unsigned g_nframes;
static unsigned g_rejects;
static uint32_t g_fake_cycles;
static uint32_t g_fake_ms;

static size_t cap_write(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    if (g_out_len + len > OUT_CAP) {
        g_out_overflow = true;
        return 0;
    }
    memcpy(g_out + g_out_len, data, len);
    g_out_len += len;
    return len;
}

static uint32_t fake_ms(void *ctx)
{
    (void)ctx;
    return g_fake_ms;
}

/* every read advances by 1000: an inference then costs exactly 1000 */
static uint32_t fake_cycles(void *ctx)
{
    (void)ctx;
    g_fake_cycles += 1000u;
    return g_fake_cycles;
}

static const app_io_t IO = {cap_write, fake_ms, fake_cycles, NULL};

/* Decodes everything captured so far into g_frames (from scratch). */
static wire_decoder_t g_dec;
static wire_event_t g_ev;
static void decode_output(void)
{
    wire_decoder_init(&g_dec, WIRE_ACCEPT_DEVICE_TO_HOST);
    g_nframes = 0;
    g_rejects = 0;
    size_t pos = 0;
    while (pos < g_out_len) {
        size_t used = 0;
        wire_event_kind_t kind = wire_decoder_feed(&g_dec, g_out + pos, g_out_len - pos, &used, &g_ev);
        pos += used;
        if (kind == WIRE_EVENT_FRAME && g_nframes < MAX_FRAMES) {
            frame_t *f = &g_frames[g_nframes++];
            f->seq = g_ev.seq;
            f->msg = g_ev.msg;
            f->len = (size_t)g_ev.raw_len + 1u;
            f->offset = pos - f->len;
        } else if (kind == WIRE_EVENT_REJECT) {
            g_rejects++;
        }
    }
}

static void clear_output(void)
{
    g_out_len = 0;
    g_out_overflow = false;
    g_nframes = 0;
}

static unsigned count_type(uint8_t type)
{
    unsigned n = 0;
    for (unsigned i = 0; i < g_nframes; i++) {
        n += g_frames[i].msg.type == type;
    }
    return n;
}

static const frame_t *first_of(uint8_t type)
{
    for (unsigned i = 0; i < g_nframes; i++) {
        if (g_frames[i].msg.type == type) {
            return &g_frames[i];
        }
    }
    return NULL;
}

static const frame_t *last_frame(void)
{
    return g_nframes > 0u ? &g_frames[g_nframes - 1u] : NULL;
}

static app_params_t params_for(const app_model_t *model, uint32_t boot_id)
{
    app_params_t p = {
        .device_id = "test-device-7",
        .firmware_version = APP_FW_VERSION,
        .boot_id = boot_id,
        .model = model,
        .arena = g_arena,
        .arena_len = sizeof g_arena,
    };
    return p;
}

static void boot(const app_params_t *p)
{
    clear_output();
    g_fake_cycles = 0;
    g_fake_ms = 0;
    app_init(&g_app, &IO, p);
}

/* ------------------------------------------------------------------------------------------------ */
/* Host frames                                                                                      */

static uint8_t g_in[WIRE_MAX_ENCODED * 4u];
static uint32_t g_host_seq;

static size_t encode_host(const wire_msg_t *m, uint8_t *out, size_t cap)
{
    size_t n = 0;
    if (wire_encode(m, ++g_host_seq, out, cap, &n) != WIRE_OK) {
        return 0;
    }
    return n;
}

/* Feeds bytes to the application the way main.c does: process whenever it stops taking them. */
static void feed(const uint8_t *data, size_t len)
{
    while (len > 0u) {
        size_t used = app_rx(&g_app, data, len);
        data += used;
        len -= used;
        app_process(&g_app, APP_SAMPLE_FIFO_LEN);
    }
}

static void send_msg(const wire_msg_t *m)
{
    size_t n = encode_host(m, g_in, sizeof g_in);
    feed(g_in, n);
}

static void send_simple(uint8_t type)
{
    wire_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = type;
    send_msg(&m);
}

static void send_u32(uint8_t type, uint32_t value)
{
    wire_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = type;
    if (type == WIRE_T_HOST_ACK) {
        m.u.host_ack.device_seq = value;
    } else {
        m.u.resend.after_seq = value;
    }
    send_msg(&m);
}

static wire_status_t get_status(void)
{
    wire_status_t st;
    memset(&st, 0xEE, sizeof st);
    size_t before = g_out_len;
    send_simple(WIRE_T_GET_STATUS);
    decode_output();
    const frame_t *f = last_frame();
    if (g_out_len > before && f != NULL && f->msg.type == WIRE_T_STATUS) {
        st = f->msg.u.status;
    }
    return st;
}

/* Synthetic ECG: baseline 1024, a QRS-like spike every `period` samples (first at `first`). */
static int16_t ecg_at(uint32_t n, uint32_t period, uint32_t first)
{
    if (n < first) {
        return 1024;
    }
    uint32_t phase = (n - first) % period;
    static const int16_t qrs[] = {0, 20, -40, 150, 420, 600, 380, 100, -120, -60, -10};
    if (phase < sizeof qrs / sizeof qrs[0]) {
        return (int16_t)(1024 + qrs[phase]);
    }
    return 1024;
}

static uint32_t g_next_sample;

/* Streams `count` samples of the synthetic ECG as SAMPLES frames; `override` (if not NULL) may replace
 * values (index, value) to inject out-of-range ones. */
static void stream(uint32_t count, uint32_t period)
{
    wire_msg_t m;
    while (count > 0u) {
        memset(&m, 0, sizeof m);
        m.type = WIRE_T_SAMPLES;
        uint16_t k = (uint16_t)(count < WIRE_SAMPLES_MAX ? count : WIRE_SAMPLES_MAX);
        m.u.samples.first_sample = g_next_sample;
        m.u.samples.count = k;
        for (uint16_t i = 0; i < k; i++) {
            m.u.samples.samples[i] = ecg_at(g_next_sample + i, period, 100);
        }
        send_msg(&m);
        g_next_sample += k;
        count -= k;
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* SHA-256                                                                                          */

static bool digest_is(const uint8_t *d, const char *hex)
{
    uint8_t want[APP_SHA256_SIZE];
    return app_sha256_from_hex(hex, want) && memcmp(d, want, sizeof want) == 0;
}

static void test_sha256_known_answers(hbtest_t *t)
{
    uint8_t d[APP_SHA256_SIZE];
    app_sha256((const uint8_t *)"", 0, d);
    HBTEST_CHECK(t, digest_is(d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    app_sha256((const uint8_t *)"abc", 3, d);
    HBTEST_CHECK(t, digest_is(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    static const char two_blocks[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    app_sha256((const uint8_t *)two_blocks, strlen(two_blocks), d);
    HBTEST_CHECK(t, digest_is(d, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    /* one million 'a', fed in uneven pieces */
    static uint8_t as[1000];
    memset(as, 'a', sizeof as);
    app_sha256_t s;
    app_sha256_init(&s);
    size_t left = 1000000u, piece = 1;
    while (left > 0u) {
        size_t n = piece < left ? piece : left;
        app_sha256_update(&s, as, n);
        left -= n;
        piece = piece % 900u + 63u; /* at most 962: within `as` */
    }
    app_sha256_final(&s, d);
    HBTEST_CHECK(t, digest_is(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    /* hex parsing: both cases, and refusals */
    uint8_t x[APP_SHA256_SIZE];
    HBTEST_CHECK(t, app_sha256_from_hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", x));
    HBTEST_CHECK(t, !app_sha256_from_hex("ba7816bf", x));
    HBTEST_CHECK(t, !app_sha256_from_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0", x));
    HBTEST_CHECK(t, !app_sha256_from_hex("za7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", x));
}

/* ------------------------------------------------------------------------------------------------ */
/* Boot and the model check                                                                         */

static void test_boot_sends_session_start_and_hello(hbtest_t *t)
{
    app_params_t p = params_for(app_builtin_model(), 0xC0FFEEu);
    boot(&p);
    HBTEST_CHECK(t, app_model_status(&g_app) == APP_MODEL_OK);
    HBTEST_CHECK(t, g_out_len > 1u && g_out[0] == 0x00); /* session start */
    decode_output();
    HBTEST_CHECK(t, g_nframes == 1u && g_rejects == 0u);
    const frame_t *f = first_of(WIRE_T_HELLO);
    HBTEST_CHECK(t, f != NULL && f->seq == 1u);
    if (f == NULL) {
        return;
    }
    const wire_hello_t *h = &f->msg.u.hello;
    uint8_t sha[APP_SHA256_SIZE];
    HBTEST_CHECK(t, app_sha256_from_hex(HB_MODEL_SHA256, sha) && memcmp(h->model_sha256, sha, sizeof sha) == 0);
    HBTEST_CHECK(t, strcmp(h->device_id, "test-device-7") == 0);
    HBTEST_CHECK(t, strcmp(h->firmware_version, APP_FW_VERSION) == 0);
    HBTEST_CHECK(t, strcmp(h->model_version, HB_MODEL_VERSION) == 0);
    HBTEST_CHECK(t, h->protocol_version == WIRE_PROTOCOL_VERSION && h->boot_id == 0xC0FFEEu);
    HBTEST_CHECK(t, h->sample_rate_hz == APP_SAMPLE_RATE_HZ);
    /* the array the build compiled in really has the sha256 the build recorded */
    app_sha256(g_model_data, g_model_data_len, sha);
    HBTEST_CHECK(t, digest_is(sha, HB_MODEL_SHA256));

    /* boot id 0 is never sent; HELLO_REQUEST answers with the same HELLO and the next seq */
    p.boot_id = 0;
    boot(&p);
    send_simple(WIRE_T_HELLO_REQUEST);
    decode_output();
    HBTEST_CHECK(t, g_nframes == 2u && g_frames[0].msg.u.hello.boot_id == 1u);
    HBTEST_CHECK(t, g_frames[1].msg.type == WIRE_T_HELLO && g_frames[1].seq == 2u);
    HBTEST_CHECK(t, g_frames[1].msg.u.hello.boot_id == 1u);
}

static uint8_t g_model_copy[HB_MODEL_DATA_LEN];
static char g_hex[2u * APP_SHA256_SIZE + 1u];

static void hex_of(const uint8_t *d)
{
    textfmt_t f;
    textfmt_init(&f, g_hex, sizeof g_hex);
    textfmt_put_hex(&f, d, APP_SHA256_SIZE);
}

/* A refused model: ERROR with `code` right after the HELLO; the device stays up, answers GET_STATUS and
 * HELLO_REQUEST (HELLO + the ERROR again), counts samples and sends no BEAT. */
static void check_refused(hbtest_t *t, const app_params_t *p, uint16_t code)
{
    boot(p);
    HBTEST_CHECK(t, (uint16_t)app_model_status(&g_app) == code);
    decode_output();
    HBTEST_CHECK(t, g_nframes == 2u);
    HBTEST_CHECK(t, g_frames[0].msg.type == WIRE_T_HELLO);
    HBTEST_CHECK(t, g_frames[1].msg.type == WIRE_T_ERROR && g_frames[1].msg.u.error.code == code);
    HBTEST_CHECK(t, strlen(g_frames[1].msg.u.error.text) > 10u);
    g_next_sample = 0;
    stream(3000, 300);
    wire_status_t st = get_status();
    HBTEST_CHECK(t, st.samples == 3000u && st.beats == 0u);
    HBTEST_CHECK(t, count_type(WIRE_T_BEAT) == 0u);
    clear_output();
    send_simple(WIRE_T_HELLO_REQUEST);
    decode_output();
    HBTEST_CHECK(t, g_nframes == 2u && g_frames[0].msg.type == WIRE_T_HELLO);
    HBTEST_CHECK(t, g_frames[1].msg.type == WIRE_T_ERROR && g_frames[1].msg.u.error.code == code);
}

static void test_model_with_wrong_sha256_is_refused(hbtest_t *t)
{
    app_model_t m = *app_builtin_model();
    memcpy(g_model_copy, m.data, m.len);
    g_model_copy[m.len / 2u] ^= 0x01u; /* one bit in the weights */
    m.data = g_model_copy;
    app_params_t p = params_for(&m, 5);
    check_refused(t, &p, WIRE_ERR_MODEL_SHA256);
    if (g_nframes == 2u) {
        /* the HELLO still names the sha256 the build recorded */
        uint8_t sha[APP_SHA256_SIZE];
        HBTEST_CHECK(t, app_sha256_from_hex(HB_MODEL_SHA256, sha));
        HBTEST_CHECK(t, memcmp(g_frames[0].msg.u.hello.model_sha256, sha, sizeof sha) == 0);
    }
    m.sha256_hex = "not a sha256";
    p = params_for(&m, 5);
    check_refused(t, &p, WIRE_ERR_MODEL_SHA256);
}

/* flatbuffer navigation for the test's own patching (TFLite schema: Model.operator_codes is field 1;
 * OperatorCode: deprecated_builtin_code int8 field 0, builtin_code int32 field 3) */
static uint32_t rd32(const uint8_t *b, size_t pos)
{
    return (uint32_t)b[pos] | ((uint32_t)b[pos + 1] << 8) | ((uint32_t)b[pos + 2] << 16) | ((uint32_t)b[pos + 3] << 24);
}

static size_t field_pos(const uint8_t *b, size_t table, unsigned id)
{
    size_t vt = (size_t)((int64_t)table - (int32_t)rd32(b, table));
    uint16_t vt_len = (uint16_t)(b[vt] | (b[vt + 1] << 8));
    if (4u + 2u * id + 2u > vt_len) {
        return 0;
    }
    uint16_t off = (uint16_t)(b[vt + 4u + 2u * id] | (b[vt + 5u + 2u * id] << 8));
    return off == 0u ? 0u : table + off;
}

static void test_model_with_an_unsupported_operator_is_refused(hbtest_t *t)
{
    app_model_t m = *app_builtin_model();
    memcpy(g_model_copy, m.data, m.len);
    size_t root = rd32(g_model_copy, 0);
    size_t codes_field = field_pos(g_model_copy, root, 1);
    HBTEST_CHECK(t, codes_field != 0u);
    if (codes_field == 0u) {
        return;
    }
    size_t vec = codes_field + rd32(g_model_copy, codes_field);
    HBTEST_CHECK(t, rd32(g_model_copy, vec) >= 1u);
    size_t code0 = vec + 4u + rd32(g_model_copy, vec + 4u);
    size_t dep = field_pos(g_model_copy, code0, 0);
    size_t builtin = field_pos(g_model_copy, code0, 3);
    HBTEST_CHECK(t, dep != 0u || builtin != 0u);
    /* AVERAGE_POOL_2D (1): a real TFLite operator the runtime does not implement */
    if (dep != 0u) {
        g_model_copy[dep] = 1;
    }
    if (builtin != 0u) {
        g_model_copy[builtin] = 1;
        g_model_copy[builtin + 1] = g_model_copy[builtin + 2] = g_model_copy[builtin + 3] = 0;
    }
    uint8_t d[APP_SHA256_SIZE];
    app_sha256(g_model_copy, m.len, d);
    hex_of(d);
    m.data = g_model_copy;
    m.sha256_hex = g_hex; /* consistent: the refusal must come from the runtime */
    app_params_t p = params_for(&m, 5);
    check_refused(t, &p, WIRE_ERR_MODEL_UNSUPPORTED_OP);
}

static void test_too_small_arena_is_refused(hbtest_t *t)
{
    app_params_t p = params_for(app_builtin_model(), 5);
    p.arena_len = 1024;
    check_refused(t, &p, WIRE_ERR_MODEL_ARENA);
}

static void test_model_that_disagrees_with_model_data_h_is_refused(hbtest_t *t)
{
    app_model_t m = *app_builtin_model();
    m.inputs[m.beat_input].dims[2] = 64; /* the header says another shape */
    app_params_t p = params_for(&m, 5);
    check_refused(t, &p, WIRE_ERR_MODEL_INVALID);

    m = *app_builtin_model();
    m.outputs[0].zero_point = 0; /* another quantization */
    p = params_for(&m, 5);
    check_refused(t, &p, WIRE_ERR_MODEL_INVALID);

    m = *app_builtin_model();
    m.inputs[m.rr_input].scale *= 2.0f;
    p = params_for(&m, 5);
    check_refused(t, &p, WIRE_ERR_MODEL_INVALID);

    m = *app_builtin_model();
    int8_t beat = m.beat_input; /* the roles swapped: the window would go into the RR input */
    m.beat_input = m.rr_input;
    m.rr_input = beat;
    p = params_for(&m, 5);
    check_refused(t, &p, WIRE_ERR_MODEL_INVALID);

    m = *app_builtin_model();
    m.num_inputs = 1;
    p = params_for(&m, 5);
    check_refused(t, &p, WIRE_ERR_MODEL_INVALID);
}

/* ------------------------------------------------------------------------------------------------ */
/* Beats, alerts and the ring                                                                       */

static void boot_ok(void)
{
    app_params_t p = params_for(app_builtin_model(), 77);
    boot(&p);
    g_next_sample = 0;
    g_host_seq = 0;
}

static void test_beats_follow_the_ecg_with_cost_and_flags(hbtest_t *t)
{
    boot_ok();
    stream(360u * 20u, 300); /* 20 s at 72 bpm */
    decode_output();
    unsigned beats = count_type(WIRE_T_BEAT);
    HBTEST_CHECK(t, beats >= 20u && beats <= 24u);
    uint32_t prev_seq = 0;
    uint32_t checked = 0, learning = 0;
    for (unsigned i = 0; i < g_nframes; i++) {
        const frame_t *f = &g_frames[i];
        HBTEST_CHECK(t, f->seq == prev_seq + 1u); /* one seq space, no holes */
        prev_seq = f->seq;
        if (f->msg.type != WIRE_T_BEAT) {
            continue;
        }
        const wire_beat_t *b = &f->msg.u.beat;
        /* each R peak lies on a spike (spikes at 100 + 300 j, their peak 5 samples in) */
        uint32_t phase = (b->r_sample + 300u - 100u) % 300u;
        HBTEST_CHECK(t, phase <= 12u || phase >= 290u);
        HBTEST_CHECK(t, b->cost == 1000u); /* the cycle counter's delta around the inference */
        uint8_t best = 0;
        for (uint8_t c = 1; c < WIRE_NUM_CLASSES; c++) {
            best = b->scores[c] > b->scores[best] ? c : best;
        }
        HBTEST_CHECK(t, b->beat_class == best);
        HBTEST_CHECK(t, (b->flags & WIRE_BEAT_CLIPPED) == 0u);
        if (b->flags & WIRE_BEAT_LEARNING) {
            learning++;
            HBTEST_CHECK(t, checked < APP_DSP_RR_HISTORY || b->r_sample < APP_DSP_LEARN_SAMPLES);
        } else {
            HBTEST_CHECK(t, checked >= APP_DSP_RR_HISTORY && b->r_sample >= APP_DSP_LEARN_SAMPLES);
        }
        checked++;
    }
    HBTEST_CHECK(t, learning == APP_DSP_RR_HISTORY);
    wire_status_t st = get_status();
    HBTEST_CHECK(t, st.samples == 360u * 20u && st.beats == beats && st.overruns == 0u);
    HBTEST_CHECK(t, st.last_seq == prev_seq && st.ring_oldest_seq == 2u && st.lost == 0u);
    HBTEST_CHECK(t, g_app.samples_processed == st.samples);
}

static void test_alert_rule_from_config_with_ack(hbtest_t *t)
{
    boot_ok();
    stream(360u * 5u, 300);
    /* every beat alerts (threshold 0): ALERT right after its BEAT, naming it */
    wire_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = WIRE_T_CONFIG;
    m.u.config.enabled = 0x1Fu | WIRE_CFG_THRESHOLD_RULE; /* every class, threshold 0 */
    clear_output();
    send_msg(&m);
    uint32_t config_seq = g_host_seq;
    decode_output();
    HBTEST_CHECK(t, g_nframes == 1u && g_frames[0].msg.type == WIRE_T_ACK);
    HBTEST_CHECK(t, g_frames[0].msg.u.ack.host_seq == config_seq && g_frames[0].msg.u.ack.status == WIRE_ACK_OK);
    clear_output();
    stream(360u * 5u, 300);
    decode_output();
    unsigned alerts = 0, n_beats = 0;
    for (unsigned i = 0; i < g_nframes; i++) {
        const frame_t *f = &g_frames[i];
        if (f->msg.type == WIRE_T_BEAT) {
            n_beats++;
            HBTEST_CHECK(t, (f->msg.u.beat.flags & WIRE_BEAT_ALERTED) != 0u);
            HBTEST_CHECK(t, i + 1u < g_nframes && g_frames[i + 1u].msg.type == WIRE_T_ALERT);
            if (i + 1u < g_nframes && g_frames[i + 1u].msg.type == WIRE_T_ALERT) {
                const wire_alert_t *a = &g_frames[i + 1u].msg.u.alert;
                HBTEST_CHECK(t, a->beat_seq == f->seq && a->r_sample == f->msg.u.beat.r_sample);
                uint8_t c = f->msg.u.beat.beat_class;
                HBTEST_CHECK(t, a->beat_class == c && a->score == f->msg.u.beat.scores[c]);
                HBTEST_CHECK(t, a->rule == WIRE_RULE_THRESHOLD && a->threshold == 0u);
                alerts++;
            }
        }
    }
    HBTEST_CHECK(t, n_beats >= 5u && alerts == n_beats);

    /* an invalid CONFIG changes nothing */
    m.u.config.enabled = 0x1Fu | WIRE_CFG_RUN_RULE; /* k = 0 */
    clear_output();
    send_msg(&m);
    decode_output();
    HBTEST_CHECK(t, g_nframes == 1u && g_frames[0].msg.u.ack.status == WIRE_ACK_INVALID);
    clear_output();
    stream(360u * 3u, 300);
    decode_output();
    HBTEST_CHECK(t, count_type(WIRE_T_ALERT) == count_type(WIRE_T_BEAT) && count_type(WIRE_T_BEAT) >= 2u);
    wire_status_t st = get_status();
    HBTEST_CHECK(t, st.alerts == g_app.alerts_sent && st.alerts >= 7u);
}

static void test_config_validation_equals_the_protocol_rule(hbtest_t *t)
{
    /* the device's CONFIG answer must be wire_config_status() (docs/protocol.md) for every value */
    uint32_t disagreements = 0;
    alerts_t a;
    alerts_config_t base = {{0, 0, 0, 0, 0}, 1, 1, 0};
    HBTEST_CHECK(t, alerts_init(&a, &base));
    for (uint32_t enabled = 0; enabled < 256u; enabled++) {
        for (uint32_t k = 0; k < 256u; k += (k < 12u ? 1u : 61u)) {
            for (uint32_t w = 0; w < 256u; w += (w < 12u ? 1u : 59u)) {
                wire_config_t wc = {{1, 2, 3, 4, 5}, (uint8_t)k, (uint8_t)w, (uint8_t)enabled};
                alerts_config_t ac = {{1, 2, 3, 4, 5}, (uint8_t)k, (uint8_t)w, (uint8_t)enabled};
                bool ok = alerts_configure(&a, &ac);
                disagreements += ok != (wire_config_status(&wc) == WIRE_ACK_OK);
            }
        }
    }
    HBTEST_CHECK(t, disagreements == 0u);
}

static bool bytes_equal_frame(const frame_t *a, const frame_t *b)
{
    return a->len == b->len && memcmp(g_out + a->offset, g_out + b->offset, a->len) == 0;
}

static void test_resend_replays_retained_frames_byte_for_byte(hbtest_t *t)
{
    boot_ok();
    stream(360u * 12u, 300);
    decode_output();
    unsigned n0 = g_nframes;
    HBTEST_CHECK(t, count_type(WIRE_T_BEAT) >= 10u);
    uint32_t after = g_frames[4].seq; /* the host holds up to here */
    send_u32(WIRE_T_HOST_ACK, g_frames[2].seq);
    send_u32(WIRE_T_RESEND, after);
    decode_output();
    /* no GAP (nothing lost), then every BEAT after `after`, byte for byte, then STATUS */
    unsigned k = n0;
    unsigned replayed = 0;
    for (unsigned i = 0; i < n0; i++) {
        if (g_frames[i].seq <= after || (g_frames[i].msg.type != WIRE_T_BEAT && g_frames[i].msg.type != WIRE_T_ALERT)) {
            continue;
        }
        HBTEST_CHECK(t, k < g_nframes && g_frames[k].seq == g_frames[i].seq);
        HBTEST_CHECK(t, k < g_nframes && bytes_equal_frame(&g_frames[k], &g_frames[i]));
        k++;
        replayed++;
    }
    HBTEST_CHECK(t, replayed >= 6u);
    HBTEST_CHECK(t, k + 1u == g_nframes && g_frames[k].msg.type == WIRE_T_STATUS);
    HBTEST_CHECK(t, count_type(WIRE_T_GAP) == 0u);
    if (k < g_nframes) {
        HBTEST_CHECK(t, g_frames[k].msg.u.status.ring_oldest_seq == g_frames[3].seq);
    }
    /* the seq space goes on after the replay */
    uint32_t status_seq = last_frame()->seq;
    stream(360u * 2u, 300);
    decode_output();
    HBTEST_CHECK(t, last_frame()->seq > status_seq);
}

static void alerts_off(void)
{
    wire_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = WIRE_T_CONFIG;
    send_msg(&m);
    clear_output();
}

static void test_overwritten_ring_reports_gap_and_lost(hbtest_t *t)
{
    boot_ok();
    alerts_off(); /* only BEATs in the ring: the arithmetic below counts them */
    /* more BEATs than the ring holds, none acknowledged (about 0.83 s per beat) */
    stream(300u * (APP_TXRING_SLOTS + 12u), 300);
    decode_output();
    unsigned beats = count_type(WIRE_T_BEAT);
    HBTEST_CHECK(t, beats > APP_TXRING_SLOTS);
    wire_status_t st = get_status();
    uint32_t lost = beats - APP_TXRING_SLOTS;
    HBTEST_CHECK(t, st.lost == lost);
    /* the oldest retained is the (lost+1)-th BEAT; everything before it is gone */
    const frame_t *oldest = NULL;
    uint32_t highest_lost = 0;
    unsigned seen = 0;
    for (unsigned i = 0; i < g_nframes; i++) {
        if (g_frames[i].msg.type == WIRE_T_BEAT) {
            if (seen == lost) {
                oldest = &g_frames[i];
            }
            if (seen < lost) {
                highest_lost = g_frames[i].seq;
            }
            seen++;
        }
    }
    HBTEST_CHECK(t, oldest != NULL && st.ring_oldest_seq == oldest->seq);
    unsigned before = g_nframes;
    send_u32(WIRE_T_RESEND, 0);
    decode_output();
    HBTEST_CHECK(t, g_frames[before].msg.type == WIRE_T_GAP);
    HBTEST_CHECK(t, g_frames[before].msg.u.gap.first == 1u && g_frames[before].msg.u.gap.last == highest_lost);
    HBTEST_CHECK(t, g_nframes == before + 1u + APP_TXRING_SLOTS + 1u);
    HBTEST_CHECK(t, g_frames[before + 1u].seq == st.ring_oldest_seq);
    HBTEST_CHECK(t, last_frame()->msg.type == WIRE_T_STATUS && last_frame()->msg.u.status.lost == lost);
    /* asking only for what is retained: no GAP */
    before = g_nframes;
    send_u32(WIRE_T_RESEND, highest_lost);
    decode_output();
    HBTEST_CHECK(t, g_frames[before].msg.type == WIRE_T_BEAT && g_frames[before].seq == st.ring_oldest_seq);
    HBTEST_CHECK(t, !g_out_overflow);
}

/* ------------------------------------------------------------------------------------------------ */
/* Bad input                                                                                        */

static void test_bad_frames_are_counted_or_answered_and_the_device_goes_on(hbtest_t *t)
{
    boot_ok();
    stream(360u * 3u, 300);
    size_t n;
    wire_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = WIRE_T_GET_STATUS;

    /* corrupt: a GET_STATUS with a changed byte (CRC) - counted, never answered */
    n = encode_host(&m, g_in, sizeof g_in);
    g_in[2] ^= 0x40u;
    clear_output();
    feed(g_in, n);
    HBTEST_CHECK(t, g_out_len == 0u);

    /* oversize: 600 non-zero bytes before a delimiter - counted, never answered */
    static uint8_t big[600];
    memset(big, 0x11, sizeof big);
    feed(big, sizeof big);
    static const uint8_t delim = 0;
    feed(&delim, 1);
    HBTEST_CHECK(t, g_out_len == 0u);

    /* unknown type with a good CRC: ERROR UNKNOWN_TYPE naming its seq */
    static uint8_t raw[16];
    uint8_t frame[8] = {WIRE_PROTOCOL_VERSION, 0x9F, 0x2A, 0, 0, 0, 0, 0};
    uint16_t crc = wire_crc16(0xFFFFu, frame, 6);
    frame[6] = (uint8_t)crc;
    frame[7] = (uint8_t)(crc >> 8);
    n = wire_cobs_encode(frame, sizeof frame, raw, sizeof raw);
    raw[n++] = 0;
    feed(raw, n);
    /* a device -> host type sent to the device: UNKNOWN_TYPE too */
    frame[1] = WIRE_T_BEAT;
    crc = wire_crc16(0xFFFFu, frame, 6);
    frame[6] = (uint8_t)crc;
    frame[7] = (uint8_t)(crc >> 8);
    n = wire_cobs_encode(frame, sizeof frame, raw, sizeof raw);
    raw[n++] = 0;
    feed(raw, n);
    /* another protocol version: BAD_VERSION */
    frame[0] = 2;
    frame[1] = WIRE_T_GET_STATUS;
    crc = wire_crc16(0xFFFFu, frame, 6);
    frame[6] = (uint8_t)crc;
    frame[7] = (uint8_t)(crc >> 8);
    n = wire_cobs_encode(frame, sizeof frame, raw, sizeof raw);
    raw[n++] = 0;
    feed(raw, n);
    /* a HOST_ACK without its payload: BAD_PAYLOAD */
    frame[0] = WIRE_PROTOCOL_VERSION;
    frame[1] = WIRE_T_HOST_ACK;
    crc = wire_crc16(0xFFFFu, frame, 6);
    frame[6] = (uint8_t)crc;
    frame[7] = (uint8_t)(crc >> 8);
    n = wire_cobs_encode(frame, sizeof frame, raw, sizeof raw);
    raw[n++] = 0;
    feed(raw, n);

    decode_output();
    HBTEST_CHECK(t, g_nframes == 4u);
    static const uint16_t codes[4] = {WIRE_ERR_UNKNOWN_TYPE, WIRE_ERR_UNKNOWN_TYPE, WIRE_ERR_BAD_VERSION,
                                      WIRE_ERR_BAD_PAYLOAD};
    for (unsigned i = 0; i < 4u && i < g_nframes; i++) {
        HBTEST_CHECK(t, g_frames[i].msg.type == WIRE_T_ERROR && g_frames[i].msg.u.error.code == codes[i]);
        HBTEST_CHECK(t, g_frames[i].msg.u.error.host_seq == 0x2Au);
    }
    wire_status_t st = get_status();
    HBTEST_CHECK(t, st.corrupt_frames == 2u); /* the CRC and the payload */
    HBTEST_CHECK(t, st.oversize_frames == 1u && st.unknown_frames == 3u);

    /* and it still classifies */
    clear_output();
    stream(360u * 3u, 300);
    decode_output();
    HBTEST_CHECK(t, count_type(WIRE_T_BEAT) >= 3u);
}

static void test_samples_out_of_order_or_range(hbtest_t *t)
{
    boot_ok();
    stream(1000, 300);
    wire_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = WIRE_T_SAMPLES;
    m.u.samples.first_sample = 900; /* not the next index */
    m.u.samples.count = 10;
    clear_output();
    send_msg(&m);
    uint32_t bad_seq = g_host_seq;
    decode_output();
    HBTEST_CHECK(t, g_nframes == 1u && g_frames[0].msg.u.error.code == WIRE_ERR_SAMPLE_INDEX);
    HBTEST_CHECK(t, g_frames[0].msg.u.error.host_seq == bad_seq);
    HBTEST_CHECK(t, strcmp(g_frames[0].msg.u.error.text, "first_sample 900 expected 1000") == 0);
    wire_status_t st = get_status();
    HBTEST_CHECK(t, st.samples == 1000u); /* dropped whole */

    /* out of the input range: clamped and counted, one ERROR for the frame, every sample kept */
    m.u.samples.first_sample = 1000;
    m.u.samples.count = 240;
    for (unsigned i = 0; i < 240u; i++) {
        m.u.samples.samples[i] = 1024;
    }
    m.u.samples.samples[10] = -5;
    m.u.samples.samples[11] = 4000;
    m.u.samples.samples[12] = 32767;
    m.u.samples.samples[13] = APP_SAMPLE_MAX; /* the limit itself is in range */
    clear_output();
    send_msg(&m);
    decode_output();
    HBTEST_CHECK(t, count_type(WIRE_T_ERROR) == 1u && g_frames[0].msg.u.error.code == WIRE_ERR_SAMPLE_RANGE);
    HBTEST_CHECK(t, strcmp(g_frames[0].msg.u.error.text, "3 samples outside 0..2047 clamped, first at 1010 (-5)") == 0);
    HBTEST_CHECK(t, g_app.range_errors == 3u);
    st = get_status();
    HBTEST_CHECK(t, st.samples == 1240u && g_app.samples_processed == 1240u);
    g_next_sample = 1240;
}

static void test_clipped_window_is_flagged(hbtest_t *t)
{
    boot_ok();
    stream(360u * 10u, 300);
    /* a sample at the top of the range between two spikes */
    wire_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = WIRE_T_SAMPLES;
    m.u.samples.first_sample = g_next_sample;
    m.u.samples.count = 240;
    for (unsigned i = 0; i < 240u; i++) {
        m.u.samples.samples[i] = ecg_at(g_next_sample + i, 300, 100);
    }
    uint32_t clip_at = g_next_sample + 120u;
    m.u.samples.samples[120] = APP_SAMPLE_MAX;
    clear_output();
    send_msg(&m);
    g_next_sample += 240;
    stream(360u * 5u, 300);
    decode_output();
    unsigned clipped = 0, other = 0;
    for (unsigned i = 0; i < g_nframes; i++) {
        if (g_frames[i].msg.type != WIRE_T_BEAT) {
            continue;
        }
        const wire_beat_t *b = &g_frames[i].msg.u.beat;
        bool covers = b->r_sample <= clip_at + APP_DSP_WINDOW_PRE && clip_at < b->r_sample + APP_DSP_WINDOW_POST;
        if (b->flags & WIRE_BEAT_CLIPPED) {
            clipped++;
            HBTEST_CHECK(t, covers);
        } else {
            other++;
            HBTEST_CHECK(t, !covers);
        }
    }
    HBTEST_CHECK(t, clipped >= 1u && other >= 3u);
}

static void test_back_pressure_takes_no_more_than_the_fifo_holds(hbtest_t *t)
{
    boot_ok();
    /* three full SAMPLES frames in one buffer */
    static uint8_t buf[3u * WIRE_MAX_ENCODED];
    size_t len = 0, ends[3];
    wire_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = WIRE_T_SAMPLES;
    for (unsigned f = 0; f < 3u; f++) {
        m.u.samples.first_sample = f * WIRE_SAMPLES_MAX;
        m.u.samples.count = WIRE_SAMPLES_MAX;
        for (unsigned i = 0; i < WIRE_SAMPLES_MAX; i++) {
            m.u.samples.samples[i] = ecg_at(f * WIRE_SAMPLES_MAX + i, 300, 100);
        }
        len += encode_host(&m, buf + len, sizeof buf - len);
        ends[f] = len;
    }
    HBTEST_CHECK(t, app_rx_ready(&g_app));
    size_t used = app_rx(&g_app, buf, len);
    /* two frames fill the FIFO beyond room for a third: it stops right after the second */
    HBTEST_CHECK(t, (APP_SAMPLE_FIFO_LEN - 2u * WIRE_SAMPLES_MAX) < WIRE_SAMPLES_MAX);
    HBTEST_CHECK(t, used == ends[1]);
    HBTEST_CHECK(t, !app_rx_ready(&g_app));
    HBTEST_CHECK(t, app_rx(&g_app, buf + used, len - used) == 0u);
    HBTEST_CHECK(t, app_process(&g_app, 100) == 100u);
    HBTEST_CHECK(t, app_process(&g_app, APP_SAMPLE_FIFO_LEN) == 2u * WIRE_SAMPLES_MAX - 100u);
    HBTEST_CHECK(t, app_rx_ready(&g_app));
    HBTEST_CHECK(t, app_rx(&g_app, buf + used, len - used) == len - used);
    app_process(&g_app, APP_SAMPLE_FIFO_LEN);
    wire_status_t st = get_status();
    HBTEST_CHECK(t, st.samples == 3u * WIRE_SAMPLES_MAX && st.overruns == 0u);
    HBTEST_CHECK(t, g_app.samples_processed == 3u * WIRE_SAMPLES_MAX);

    /* an ADC that outruns the signal path is counted, never blocks */
    unsigned accepted = 0;
    for (unsigned i = 0; i < APP_SAMPLE_FIFO_LEN + 5u; i++) {
        accepted += app_push_sample(&g_app, 1024);
    }
    HBTEST_CHECK(t, accepted == APP_SAMPLE_FIFO_LEN && g_app.overruns == 5u);
    st = get_status();
    HBTEST_CHECK(t, st.overruns == 5u);
}

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    hbtest_run(&t, "sha256_known_answers", test_sha256_known_answers);
    hbtest_run(&t, "boot_sends_session_start_and_hello", test_boot_sends_session_start_and_hello);
    hbtest_run(&t, "model_with_wrong_sha256_is_refused", test_model_with_wrong_sha256_is_refused);
    hbtest_run(&t, "model_with_an_unsupported_operator_is_refused", test_model_with_an_unsupported_operator_is_refused);
    hbtest_run(&t, "too_small_arena_is_refused", test_too_small_arena_is_refused);
    hbtest_run(&t, "model_that_disagrees_with_model_data_h_is_refused",
               test_model_that_disagrees_with_model_data_h_is_refused);
    hbtest_run(&t, "beats_follow_the_ecg_with_cost_and_flags", test_beats_follow_the_ecg_with_cost_and_flags);
    hbtest_run(&t, "alert_rule_from_config_with_ack", test_alert_rule_from_config_with_ack);
    hbtest_run(&t, "config_validation_equals_the_protocol_rule", test_config_validation_equals_the_protocol_rule);
    hbtest_run(&t, "resend_replays_retained_frames_byte_for_byte", test_resend_replays_retained_frames_byte_for_byte);
    hbtest_run(&t, "overwritten_ring_reports_gap_and_lost", test_overwritten_ring_reports_gap_and_lost);
    hbtest_run(&t, "bad_frames_are_counted_or_answered_and_the_device_goes_on",
               test_bad_frames_are_counted_or_answered_and_the_device_goes_on);
    hbtest_run(&t, "samples_out_of_order_or_range", test_samples_out_of_order_or_range);
    hbtest_run(&t, "clipped_window_is_flagged", test_clipped_window_is_flagged);
    hbtest_run(&t, "back_pressure_takes_no_more_than_the_fifo_holds",
               test_back_pressure_takes_no_more_than_the_fifo_holds);
    port_exit(hbtest_end(&t));
}
