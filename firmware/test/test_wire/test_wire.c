/*
 * test_wire - the C wire codec (firmware/lib/wire) against the one vector table,
 * tests/contract/wire_vectors.json, turned into wire_vectors.h by firmware/test/gen_wire_vectors.py before the
 * build (git-ignored). The Python twin (edge_bridge/wire.py) runs the same table in tests/edge_bridge/.
 * Runs on the host (native) and on the emulated Cortex-M4F (qemu).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hbtest.h"
#include "port.h"
#include "wire.h"
#include "wire_vectors.h"

/* one decoder and event at a time: both are large for a stack on the target */
static wire_decoder_t g_dec;
static wire_event_t g_ev;
static uint8_t g_out[WIRE_MAX_ENCODED + 16];

/* Names the vector a check failed on (the harness reports only file:line and the expression). */
static bool vcheck(hbtest_t *t, bool ok, const char *vector, const char *what, const char *file, int line)
{
    if (!ok) {
        hbtest_print("  vector ");
        hbtest_print(vector);
        hbtest_print(": ");
        hbtest_print(what);
        hbtest_print("\n");
    }
    return hbtest_check(t, ok, what, file, line);
}
#define VCHECK(t, name, cond) vcheck((t), (cond), (name), #cond, __FILE__, __LINE__)

static bool bytes_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    return n == 0u || memcmp(a, b, n) == 0;
}

/* Field by field (padding and unused union bytes play no part). */
static bool msg_equal(const wire_msg_t *a, const wire_msg_t *b)
{
    if (a->type != b->type) {
        return false;
    }
    switch (a->type) {
    case WIRE_T_HELLO: {
        const wire_hello_t *x = &a->u.hello, *y = &b->u.hello;
        return strcmp(x->device_id, y->device_id) == 0 && strcmp(x->firmware_version, y->firmware_version) == 0 &&
               strcmp(x->model_version, y->model_version) == 0 &&
               memcmp(x->model_sha256, y->model_sha256, WIRE_SHA256_SIZE) == 0 &&
               x->protocol_version == y->protocol_version && x->boot_id == y->boot_id &&
               x->sample_rate_hz == y->sample_rate_hz;
    }
    case WIRE_T_BEAT: {
        const wire_beat_t *x = &a->u.beat, *y = &b->u.beat;
        return x->r_sample == y->r_sample && x->beat_class == y->beat_class &&
               memcmp(x->scores, y->scores, sizeof x->scores) == 0 && x->cost == y->cost && x->flags == y->flags;
    }
    case WIRE_T_ALERT: {
        const wire_alert_t *x = &a->u.alert, *y = &b->u.alert;
        return x->beat_seq == y->beat_seq && x->r_sample == y->r_sample && x->beat_class == y->beat_class &&
               x->score == y->score && x->rule == y->rule && x->threshold == y->threshold;
    }
    case WIRE_T_STATUS: {
        const wire_status_t *x = &a->u.status, *y = &b->u.status;
        return x->uptime_ms == y->uptime_ms && x->samples == y->samples && x->beats == y->beats &&
               x->alerts == y->alerts && x->corrupt_frames == y->corrupt_frames &&
               x->oversize_frames == y->oversize_frames && x->unknown_frames == y->unknown_frames &&
               x->overruns == y->overruns && x->lost == y->lost && x->last_seq == y->last_seq &&
               x->ring_oldest_seq == y->ring_oldest_seq;
    }
    case WIRE_T_ACK:
        return a->u.ack.host_seq == b->u.ack.host_seq && a->u.ack.status == b->u.ack.status;
    case WIRE_T_ERROR:
        return a->u.error.code == b->u.error.code && a->u.error.host_seq == b->u.error.host_seq &&
               strcmp(a->u.error.text, b->u.error.text) == 0;
    case WIRE_T_GAP:
        return a->u.gap.first == b->u.gap.first && a->u.gap.last == b->u.gap.last;
    case WIRE_T_SAMPLES:
        return a->u.samples.first_sample == b->u.samples.first_sample && a->u.samples.count == b->u.samples.count &&
               memcmp(a->u.samples.samples, b->u.samples.samples,
                      (size_t)a->u.samples.count * sizeof a->u.samples.samples[0]) == 0;
    case WIRE_T_CONFIG:
        return memcmp(a->u.config.thresholds, b->u.config.thresholds, WIRE_NUM_CLASSES) == 0 &&
               a->u.config.k == b->u.config.k && a->u.config.window == b->u.config.window &&
               a->u.config.enabled == b->u.config.enabled;
    case WIRE_T_HOST_ACK:
        return a->u.host_ack.device_seq == b->u.host_ack.device_seq;
    case WIRE_T_RESEND:
        return a->u.resend.after_seq == b->u.resend.after_seq;
    case WIRE_T_UPDATE_STATE: {
        const wire_update_state_t *x = &a->u.update_state, *y = &b->u.update_state;
        return x->host_seq == y->host_seq && x->state == y->state && x->result == y->result &&
               x->next_offset == y->next_offset;
    }
    case WIRE_T_BOOT_REPORT: {
        const wire_boot_report_t *x = &a->u.boot_report, *y = &b->u.boot_report;
        return x->running_slot == y->running_slot && x->version_major == y->version_major &&
               x->version_minor == y->version_minor && x->version_revision == y->version_revision &&
               x->version_build == y->version_build && x->confirmed == y->confirmed &&
               x->last_outcome == y->last_outcome && x->reason == y->reason &&
               x->security_counter == y->security_counter;
    }
    case WIRE_T_UPDATE_BEGIN: {
        const wire_update_begin_t *x = &a->u.update_begin, *y = &b->u.update_begin;
        return x->image_size == y->image_size && memcmp(x->image_sha256, y->image_sha256, WIRE_SHA256_SIZE) == 0 &&
               x->version_major == y->version_major && x->version_minor == y->version_minor &&
               x->version_revision == y->version_revision && x->version_build == y->version_build &&
               x->security_counter == y->security_counter;
    }
    case WIRE_T_UPDATE_CHUNK: {
        const wire_update_chunk_t *x = &a->u.update_chunk, *y = &b->u.update_chunk;
        return x->offset == y->offset && x->length == y->length && x->length <= WIRE_CHUNK_MAX &&
               memcmp(x->data, y->data, x->length) == 0;
    }
    default: /* GET_STATUS, HELLO_REQUEST, UPDATE_END, UPDATE_INSTALL, UPDATE_ABORT: no fields */
        return true;
    }
}

typedef struct {
    const char *name;
    uint8_t code;
} named_code_t;

/* The C names of the codes, written here by hand: the table's names and values must match them. */
static const named_code_t TYPE_NAMES[] = {
    {"HELLO", WIRE_T_HELLO},
    {"BEAT", WIRE_T_BEAT},
    {"ALERT", WIRE_T_ALERT},
    {"STATUS", WIRE_T_STATUS},
    {"ACK", WIRE_T_ACK},
    {"ERROR", WIRE_T_ERROR},
    {"GAP", WIRE_T_GAP},
    {"UPDATE_STATE", WIRE_T_UPDATE_STATE},
    {"BOOT_REPORT", WIRE_T_BOOT_REPORT},
    {"SAMPLES", WIRE_T_SAMPLES},
    {"CONFIG", WIRE_T_CONFIG},
    {"HOST_ACK", WIRE_T_HOST_ACK},
    {"RESEND", WIRE_T_RESEND},
    {"GET_STATUS", WIRE_T_GET_STATUS},
    {"HELLO_REQUEST", WIRE_T_HELLO_REQUEST},
    {"UPDATE_BEGIN", WIRE_T_UPDATE_BEGIN},
    {"UPDATE_CHUNK", WIRE_T_UPDATE_CHUNK},
    {"UPDATE_END", WIRE_T_UPDATE_END},
    {"UPDATE_INSTALL", WIRE_T_UPDATE_INSTALL},
    {"UPDATE_ABORT", WIRE_T_UPDATE_ABORT},
};
static const named_code_t STATE_NAMES[] = {
    {"IDLE", WIRE_XFER_IDLE},         {"RECEIVING", WIRE_XFER_RECEIVING},
    {"VERIFIED", WIRE_XFER_VERIFIED}, {"INSTALLING", WIRE_XFER_INSTALLING},
    {"REFUSED", WIRE_XFER_REFUSED},
};
static const named_code_t RESULT_NAMES[] = {
    {"OK", WIRE_UPD_OK},
    {"BAD_SIZE", WIRE_UPD_BAD_SIZE},
    {"BAD_OFFSET", WIRE_UPD_BAD_OFFSET},
    {"BAD_LENGTH", WIRE_UPD_BAD_LENGTH},
    {"OUT_OF_ORDER", WIRE_UPD_OUT_OF_ORDER},
    {"NO_TRANSFER", WIRE_UPD_NO_TRANSFER},
    {"INCOMPLETE", WIRE_UPD_INCOMPLETE},
    {"NOT_VERIFIED", WIRE_UPD_NOT_VERIFIED},
    {"BUSY", WIRE_UPD_BUSY},
    {"FLASH", WIRE_UPD_FLASH},
    {"TRANSFER_HASH", WIRE_UPD_TRANSFER_HASH},
    {"BAD_IMAGE", WIRE_UPD_BAD_IMAGE},
    {"IMAGE_HASH", WIRE_UPD_IMAGE_HASH},
    {"UNKNOWN_KEY", WIRE_UPD_UNKNOWN_KEY},
    {"BAD_SIGNATURE", WIRE_UPD_BAD_SIGNATURE},
    {"WRONG_TARGET", WIRE_UPD_WRONG_TARGET},
    {"SECURITY_COUNTER", WIRE_UPD_SECURITY_COUNTER},
    {"MANIFEST_MISMATCH", WIRE_UPD_MANIFEST_MISMATCH},
    {"SELF_TEST_FAILED", WIRE_UPD_SELF_TEST_FAILED},
    {"NOT_CONFIRMED", WIRE_UPD_NOT_CONFIRMED},
};
static const named_code_t OUTCOME_NAMES[] = {
    {"NONE", WIRE_OUTCOME_NONE},
    {"INSTALLED", WIRE_OUTCOME_INSTALLED},
    {"REFUSED", WIRE_OUTCOME_REFUSED},
    {"REVERTED", WIRE_OUTCOME_REVERTED},
};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const uint8_t *code_of(const named_code_t *names, size_t n, const char *name, bool *found)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i].name, name) == 0) {
            *found = true;
            return &names[i].code;
        }
    }
    *found = false;
    return NULL;
}

/* The table's names and codes are exactly the C ones (same count, each name with its code). */
static void check_codes(hbtest_t *t, const named_code_t *names, size_t n, const wv_type_t *table, size_t n_table)
{
    HBTEST_CHECK(t, n_table == n);
    for (size_t i = 0; i < n_table; i++) {
        bool found = false;
        const uint8_t *code = code_of(names, n, table[i].name, &found);
        VCHECK(t, table[i].name, found && *code == table[i].code);
    }
}

static bool in_table(const wv_type_t *table, size_t n, unsigned value)
{
    for (size_t i = 0; i < n; i++) {
        if (table[i].code == value) {
            return true;
        }
    }
    return false;
}

/* ----------------------------------------------------------------------------------------------------------- */
static void test_constants_match_the_table(hbtest_t *t)
{
    HBTEST_CHECK(t, WIRE_PROTOCOL_VERSION == WV_PROTOCOL_VERSION);
    HBTEST_CHECK(t, WIRE_MAX_FRAME == WV_MAX_FRAME);
    HBTEST_CHECK(t, WIRE_SAMPLES_MAX == WV_SAMPLES_MAX);
    HBTEST_CHECK(t, WIRE_STR_MAX == WV_STR_MAX);
    HBTEST_CHECK(t, WIRE_CHUNK_MAX == WV_CHUNK_MAX);
    HBTEST_CHECK(t, WV_N_TYPES == 20u);
    check_codes(t, TYPE_NAMES, N_OF(TYPE_NAMES), WV_TYPES, WV_N_TYPES);
    check_codes(t, STATE_NAMES, N_OF(STATE_NAMES), WV_UPDATE_STATES, WV_N_UPDATE_STATES);
    check_codes(t, RESULT_NAMES, N_OF(RESULT_NAMES), WV_UPDATE_RESULTS, WV_N_UPDATE_RESULTS);
    check_codes(t, OUTCOME_NAMES, N_OF(OUTCOME_NAMES), WV_BOOT_OUTCOMES, WV_N_BOOT_OUTCOMES);
}

/* A decoded frame of `type` with `payload`, resealed (CRC, COBS, delimiter) into g_out; returns its length. */
static size_t reseal(uint8_t type, uint32_t seq, const uint8_t *payload, size_t len)
{
    static uint8_t decoded[WIRE_MAX_FRAME];
    if (len > WIRE_MAX_PAYLOAD) {
        return 0;
    }
    decoded[0] = WIRE_PROTOCOL_VERSION;
    decoded[1] = type;
    for (unsigned i = 0; i < 4u; i++) {
        decoded[2u + i] = (uint8_t)(seq >> (8u * i));
    }
    if (len > 0u) {
        memcpy(decoded + WIRE_HEADER_SIZE, payload, len);
    }
    uint16_t crc = wire_crc16(0xFFFFu, decoded, WIRE_HEADER_SIZE + len);
    decoded[WIRE_HEADER_SIZE + len] = (uint8_t)(crc & 0xFFu);
    decoded[WIRE_HEADER_SIZE + len + 1u] = (uint8_t)(crc >> 8);
    size_t n = wire_cobs_encode(decoded, WIRE_MIN_FRAME + len, g_out, sizeof g_out - 1u);
    if (n > 0u) {
        g_out[n++] = 0u;
    }
    return n;
}

/* Feeds one frame to a fresh decoder that takes both directions; returns the event kind (reason in g_ev). */
static wire_event_kind_t decode_one(const uint8_t *frame, size_t n)
{
    size_t used = 0;
    wire_decoder_init(&g_dec, WIRE_ACCEPT_ALL);
    return wire_decoder_feed(&g_dec, frame, n, &used, &g_ev);
}

/* Every value of the u8 enums of the update messages: taken exactly when the table names it, on both sides. */
static void test_update_enums_take_exactly_the_table_values(hbtest_t *t)
{
    static wire_msg_t m;
    static uint8_t payload[32];
    unsigned states = 0, results = 0, outcomes = 0;
    for (unsigned v = 0; v <= 0xFFu; v++) {
        size_t n = 0;
        bool state_known = in_table(WV_UPDATE_STATES, WV_N_UPDATE_STATES, v);
        bool result_known = in_table(WV_UPDATE_RESULTS, WV_N_UPDATE_RESULTS, v);
        bool outcome_known = in_table(WV_BOOT_OUTCOMES, WV_N_BOOT_OUTCOMES, v);
        states += state_known ? 1u : 0u;
        results += result_known ? 1u : 0u;
        outcomes += outcome_known ? 1u : 0u;
        HBTEST_CHECK(t, wire_update_result_known((uint8_t)v) == result_known);

        memset(&m, 0, sizeof m);
        m.type = WIRE_T_UPDATE_STATE;
        m.u.update_state.state = (uint8_t)v;
        HBTEST_CHECK(t, (wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_OK) == state_known);
        m.u.update_state.state = WIRE_XFER_REFUSED;
        m.u.update_state.result = (uint8_t)v;
        HBTEST_CHECK(t, (wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_OK) == result_known);
        memset(&m, 0, sizeof m);
        m.type = WIRE_T_BOOT_REPORT;
        m.u.boot_report.last_outcome = (uint8_t)v;
        HBTEST_CHECK(t, (wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_OK) == outcome_known);
        m.u.boot_report.last_outcome = WIRE_OUTCOME_REVERTED;
        m.u.boot_report.reason = (uint8_t)v;
        HBTEST_CHECK(t, (wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_OK) == result_known);
        m.u.boot_report.reason = WIRE_UPD_OK;
        m.u.boot_report.running_slot = (uint8_t)v;
        HBTEST_CHECK(t, (wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_OK) ==
                            (v < WIRE_N_SLOTS || v == WIRE_SLOT_NONE));
        m.u.boot_report.running_slot = 0;
        m.u.boot_report.confirmed = (uint8_t)v;
        HBTEST_CHECK(t, (wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_OK) == (v <= 1u));

        /* the decoder: UPDATE_STATE host_seq u32 | state | result | next_offset u32 */
        memset(payload, 0, sizeof payload);
        payload[4] = (uint8_t)v;
        n = reseal(WIRE_T_UPDATE_STATE, 7, payload, 10);
        HBTEST_CHECK(t, (decode_one(g_out, n) == WIRE_EVENT_FRAME) == state_known);
        payload[4] = WIRE_XFER_IDLE;
        payload[5] = (uint8_t)v;
        n = reseal(WIRE_T_UPDATE_STATE, 7, payload, 10);
        HBTEST_CHECK(t, (decode_one(g_out, n) == WIRE_EVENT_FRAME) == result_known);
        /* BOOT_REPORT slot | version (8) | confirmed | outcome | reason | counter u32 */
        memset(payload, 0, sizeof payload);
        payload[10] = (uint8_t)v;
        n = reseal(WIRE_T_BOOT_REPORT, 7, payload, 16);
        HBTEST_CHECK(t, (decode_one(g_out, n) == WIRE_EVENT_FRAME) == outcome_known);
        HBTEST_CHECK(t, outcome_known || g_ev.reason == WIRE_REASON_PAYLOAD);
        payload[10] = 0;
        payload[11] = (uint8_t)v;
        n = reseal(WIRE_T_BOOT_REPORT, 7, payload, 16);
        HBTEST_CHECK(t, (decode_one(g_out, n) == WIRE_EVENT_FRAME) == result_known);
    }
    HBTEST_CHECK(t, states == WV_N_UPDATE_STATES && results == WV_N_UPDATE_RESULTS && outcomes == WV_N_BOOT_OUTCOMES);
}

/* Every vector message with its payload cut short (by 1 .. all of its bytes) or one byte longer, CRC made right
 * again: refused with reason PAYLOAD and its header known (so a device answers ERROR BAD_PAYLOAD naming it). */
static void test_truncated_or_extended_payloads_are_refused(hbtest_t *t)
{
    static uint8_t decoded[WIRE_MAX_FRAME + 1];
    for (size_t i = 0; i < WV_N_MESSAGES; i++) {
        const wv_message_t *v = &WV_MESSAGES[i];
        size_t len = 0;
        if (!VCHECK(t, v->name, wire_frame_bytes(v->msg, v->seq, decoded, sizeof decoded, &len) == WIRE_OK)) {
            continue;
        }
        size_t payload_len = len - WIRE_MIN_FRAME;
        for (size_t cut = 1; cut <= payload_len; cut++) {
            size_t n = reseal(v->msg->type, v->seq, decoded + WIRE_HEADER_SIZE, payload_len - cut);
            VCHECK(t, v->name, decode_one(g_out, n) == WIRE_EVENT_REJECT && g_ev.reason == WIRE_REASON_PAYLOAD);
            VCHECK(t, v->name, g_ev.has_header && g_ev.seq == v->seq && g_ev.type == v->msg->type);
        }
        if (payload_len < WIRE_MAX_PAYLOAD) {
            decoded[WIRE_HEADER_SIZE + payload_len] = 0x5Au; /* over the first CRC byte: one more payload byte */
            size_t n = reseal(v->msg->type, v->seq, decoded + WIRE_HEADER_SIZE, payload_len + 1u);
            VCHECK(t, v->name, decode_one(g_out, n) == WIRE_EVENT_REJECT && g_ev.reason == WIRE_REASON_PAYLOAD);
        }
    }
}

static void test_crc16_vectors(hbtest_t *t)
{
    HBTEST_CHECK(t, WV_N_CRC >= 3u);
    for (size_t i = 0; i < WV_N_CRC; i++) {
        const wv_crc_t *v = &WV_CRC[i];
        VCHECK(t, v->name, wire_crc16(0xFFFFu, v->data, v->len) == v->crc);
    }
    /* by hand: the check value of CRC-16/CCITT-FALSE, and continuing a CRC over a split input */
    HBTEST_CHECK(t, wire_crc16(0xFFFFu, (const uint8_t *)"123456789", 9) == 0x29B1u);
    HBTEST_CHECK(t,
                 wire_crc16(wire_crc16(0xFFFFu, (const uint8_t *)"1234", 4), (const uint8_t *)"56789", 5) == 0x29B1u);
}

static void test_cobs_vectors_encode(hbtest_t *t)
{
    for (size_t i = 0; i < WV_N_COBS; i++) {
        const wv_cobs_t *v = &WV_COBS[i];
        size_t n = wire_cobs_encode(v->decoded, v->decoded_len, g_out, sizeof g_out);
        HBTEST_CHECK(t, n == v->encoded_len);
        HBTEST_CHECK(t, n == v->encoded_len && bytes_equal(g_out, v->encoded, n));
        /* one byte less room: refused, not truncated */
        HBTEST_CHECK(t, wire_cobs_encode(v->decoded, v->decoded_len, g_out, v->encoded_len - 1u) == 0u);
    }
}

/* The streaming decoder undoes the literature's COBS examples: whatever the frame check says, the decoded
 * bytes it reports are the vector's. */
static void test_cobs_vectors_decode_in_the_streaming_decoder(hbtest_t *t)
{
    for (size_t i = 0; i < WV_N_COBS; i++) {
        const wv_cobs_t *v = &WV_COBS[i];
        size_t used = 0;
        wire_decoder_init(&g_dec, WIRE_ACCEPT_ALL);
        HBTEST_CHECK(t, wire_decoder_feed(&g_dec, v->encoded, v->encoded_len, &used, &g_ev) == WIRE_EVENT_NONE);
        HBTEST_CHECK(t, used == v->encoded_len);
        static const uint8_t delimiter = 0u;
        wire_event_kind_t kind = wire_decoder_feed(&g_dec, &delimiter, 1, &used, &g_ev);
        HBTEST_CHECK(t, kind != WIRE_EVENT_NONE && used == 1u);
        HBTEST_CHECK(t, g_ev.raw_len == v->encoded_len);
        HBTEST_CHECK(t, g_ev.frame != NULL && g_ev.frame_len == v->decoded_len &&
                            bytes_equal(g_ev.frame, v->decoded, v->decoded_len));
    }
}

static void test_messages_encode_to_the_vector_bytes(hbtest_t *t)
{
    HBTEST_CHECK(t, WV_N_MESSAGES >= 2u * WV_N_TYPES);
    for (size_t i = 0; i < WV_N_MESSAGES; i++) {
        const wv_message_t *v = &WV_MESSAGES[i];
        size_t n = 0;
        VCHECK(t, v->name, wire_encode(v->msg, v->seq, g_out, sizeof g_out, &n) == WIRE_OK);
        VCHECK(t, v->name, n == v->frame_len && bytes_equal(g_out, v->frame, n));
        VCHECK(t, v->name, n <= WIRE_MAX_ENCODED);
        /* exactly enough room works, one byte less is refused */
        VCHECK(t, v->name, wire_encode(v->msg, v->seq, g_out, v->frame_len, &n) == WIRE_OK && n == v->frame_len);
        VCHECK(t, v->name, wire_encode(v->msg, v->seq, g_out, v->frame_len - 1u, &n) == WIRE_E_SPACE && n == 0u);
    }
}

static void test_messages_decode_to_their_fields(hbtest_t *t)
{
    for (size_t i = 0; i < WV_N_MESSAGES; i++) {
        const wv_message_t *v = &WV_MESSAGES[i];
        size_t used = 0;
        wire_decoder_init(&g_dec, WIRE_ACCEPT_ALL);
        wire_event_kind_t kind = wire_decoder_feed(&g_dec, v->frame, v->frame_len, &used, &g_ev);
        VCHECK(t, v->name, kind == WIRE_EVENT_FRAME && used == v->frame_len);
        VCHECK(t, v->name, g_ev.seq == v->seq && g_ev.has_header && g_ev.version == WIRE_PROTOCOL_VERSION);
        VCHECK(t, v->name, g_ev.type == v->msg->type && msg_equal(&g_ev.msg, v->msg));
        VCHECK(t, v->name, g_ev.raw_len == v->frame_len - 1u);
        VCHECK(t, v->name, g_dec.counters.frames == 1u && g_dec.counters.bytes == v->frame_len);
        /* the decoded bytes it reports are what wire_frame_bytes() gives */
        size_t n = 0;
        VCHECK(t, v->name, wire_frame_bytes(v->msg, v->seq, g_out, sizeof g_out, &n) == WIRE_OK);
        VCHECK(t, v->name, g_ev.frame_len == n && bytes_equal(g_ev.frame, g_out, n));
    }
}

static void test_messages_decode_one_byte_at_a_time(hbtest_t *t)
{
    for (size_t i = 0; i < WV_N_MESSAGES; i++) {
        const wv_message_t *v = &WV_MESSAGES[i];
        size_t frames = 0;
        wire_decoder_init(&g_dec, WIRE_ACCEPT_ALL);
        for (size_t j = 0; j < v->frame_len; j++) {
            size_t used = 0;
            wire_event_kind_t kind = wire_decoder_feed(&g_dec, &v->frame[j], 1, &used, &g_ev);
            VCHECK(t, v->name, used == 1u);
            if (kind == WIRE_EVENT_FRAME) {
                frames++;
                VCHECK(t, v->name, j == v->frame_len - 1u && msg_equal(&g_ev.msg, v->msg) && g_ev.seq == v->seq);
            } else {
                VCHECK(t, v->name, kind == WIRE_EVENT_NONE);
                VCHECK(t, v->name, wire_decoder_pending(&g_dec) == j + 1u);
            }
        }
        VCHECK(t, v->name, frames == 1u);
    }
}

/* Feeds a stream in pieces of `step` bytes (0: all at once) and checks every event and the counters. */
static void check_stream(hbtest_t *t, const wv_stream_t *v, size_t step)
{
    size_t next = 0, pos = 0;
    wire_decoder_init(&g_dec, v->accept);
    while (pos < v->input_len) {
        size_t piece = step == 0u ? v->input_len - pos : (step < v->input_len - pos ? step : v->input_len - pos);
        size_t end = pos + piece;
        while (pos < end) {
            size_t used = 0;
            wire_event_kind_t kind = wire_decoder_feed(&g_dec, v->input + pos, end - pos, &used, &g_ev);
            VCHECK(t, v->name, used >= 1u && used <= end - pos);
            pos += used;
            if (kind == WIRE_EVENT_NONE) {
                VCHECK(t, v->name, pos == end);
                continue;
            }
            VCHECK(t, v->name, v->input[pos - 1u] == 0u); /* an event ends at a delimiter */
            if (!VCHECK(t, v->name, next < v->n_events)) {
                return;
            }
            const wv_event_t *want = &v->events[next++];
            VCHECK(t, v->name, kind == want->kind && g_ev.kind == want->kind);
            VCHECK(t, v->name, g_ev.reason == want->reason);
            VCHECK(t, v->name, g_ev.raw_len == want->raw_len);
            VCHECK(t, v->name, g_ev.has_header == want->has_header);
            if (want->has_header) {
                VCHECK(t, v->name, g_ev.version == want->version && g_ev.type == want->type && g_ev.seq == want->seq);
            }
            if (want->kind == WIRE_EVENT_FRAME) {
                VCHECK(t, v->name, msg_equal(&g_ev.msg, want->msg));
            }
        }
    }
    VCHECK(t, v->name, next == v->n_events);
    VCHECK(t, v->name, g_dec.counters.frames == v->counters.frames);
    VCHECK(t, v->name, g_dec.counters.corrupt == v->counters.corrupt);
    VCHECK(t, v->name, g_dec.counters.oversize == v->counters.oversize);
    VCHECK(t, v->name, g_dec.counters.unknown == v->counters.unknown);
    VCHECK(t, v->name, g_dec.counters.bytes == v->counters.bytes);
    VCHECK(t, v->name, wire_decoder_pending(&g_dec) == v->pending);
}

static void test_streams_give_the_vector_events_and_counters(hbtest_t *t)
{
    HBTEST_CHECK(t, WV_N_STREAMS >= 10u);
    for (size_t i = 0; i < WV_N_STREAMS; i++) {
        check_stream(t, &WV_STREAMS[i], 0);
    }
}

static void test_streams_one_byte_at_a_time(hbtest_t *t)
{
    for (size_t i = 0; i < WV_N_STREAMS; i++) {
        check_stream(t, &WV_STREAMS[i], 1);
    }
}

static void test_streams_in_uneven_pieces(hbtest_t *t)
{
    static const size_t steps[] = {2, 3, 7, 64, 255};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        for (size_t i = 0; i < WV_N_STREAMS; i++) {
            check_stream(t, &WV_STREAMS[i], steps[s]);
        }
    }
}

static void test_reject_reasons_name_their_counters(hbtest_t *t)
{
    HBTEST_CHECK(t, strcmp(wire_reason_name(WIRE_REASON_CRC), "crc") == 0);
    HBTEST_CHECK(t, strcmp(wire_reason_counter(WIRE_REASON_CRC), "corrupt") == 0);
    HBTEST_CHECK(t, strcmp(wire_reason_counter(WIRE_REASON_COBS), "corrupt") == 0);
    HBTEST_CHECK(t, strcmp(wire_reason_counter(WIRE_REASON_SHORT), "corrupt") == 0);
    HBTEST_CHECK(t, strcmp(wire_reason_counter(WIRE_REASON_PAYLOAD), "corrupt") == 0);
    HBTEST_CHECK(t, strcmp(wire_reason_counter(WIRE_REASON_OVERSIZE), "oversize") == 0);
    HBTEST_CHECK(t, strcmp(wire_reason_counter(WIRE_REASON_VERSION), "unknown") == 0);
    HBTEST_CHECK(t, strcmp(wire_reason_counter(WIRE_REASON_TYPE), "unknown") == 0);
    HBTEST_CHECK(t, strcmp(wire_reason_name(WIRE_REASON_NONE), "none") == 0);
    /* every reason of the table occurs in some stream (the table covers them all) */
    bool seen[8] = {false};
    for (size_t i = 0; i < WV_N_STREAMS; i++) {
        for (size_t j = 0; j < WV_STREAMS[i].n_events; j++) {
            seen[WV_STREAMS[i].events[j].reason] = true;
        }
    }
    for (unsigned r = WIRE_REASON_COBS; r <= WIRE_REASON_TYPE; r++) {
        HBTEST_CHECK(t, seen[r]);
    }
}

static void test_config_status_vectors(hbtest_t *t)
{
    HBTEST_CHECK(t, WV_N_CONFIG_CHECKS >= 4u);
    for (size_t i = 0; i < WV_N_CONFIG_CHECKS; i++) {
        HBTEST_CHECK(t, wire_config_status(&WV_CONFIG_CHECKS[i].config) == WV_CONFIG_CHECKS[i].status);
    }
    HBTEST_CHECK(t, wire_config_status(NULL) == WIRE_ACK_INVALID);
}

static void test_encode_refuses_invalid_messages(hbtest_t *t)
{
    static wire_msg_t m;
    size_t n = 99;
    memset(&m, 0, sizeof m);
    m.type = WIRE_T_BEAT;
    m.u.beat.beat_class = WIRE_NUM_CLASSES;
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_E_INVALID && n == 0u);
    m.u.beat.beat_class = WIRE_NUM_CLASSES - 1u;
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_OK && n > 0u);

    memset(&m, 0, sizeof m);
    m.type = WIRE_T_ERROR;
    memset(m.u.error.text, 'a', WIRE_STR_MAX);
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_OK); /* 64 characters: fine */
    memset(m.u.error.text, 'a', sizeof m.u.error.text);                      /* no terminator: refused */
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_E_INVALID);
    strcpy(m.u.error.text, "tab\there");
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_E_INVALID);

    memset(&m, 0, sizeof m);
    m.type = WIRE_T_HELLO;
    strcpy(m.u.hello.model_version, "caf\xc3\xa9");
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_E_INVALID);

    memset(&m, 0, sizeof m);
    m.type = WIRE_T_GAP;
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_E_INVALID); /* first 0 */
    m.u.gap.first = 5;
    m.u.gap.last = 4;
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_E_INVALID);

    memset(&m, 0, sizeof m);
    m.type = WIRE_T_SAMPLES;
    m.u.samples.count = WIRE_SAMPLES_MAX + 1u;
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_E_INVALID);
    m.u.samples.count = WIRE_SAMPLES_MAX;
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_OK && n <= WIRE_MAX_ENCODED);

    memset(&m, 0, sizeof m);
    m.type = WIRE_T_UPDATE_CHUNK;
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_E_INVALID); /* length 0 */
    m.u.update_chunk.length = WIRE_CHUNK_MAX + 1u;
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_E_INVALID);
    m.u.update_chunk.length = WIRE_CHUNK_MAX;
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_OK && n <= WIRE_MAX_ENCODED);
    m.u.update_chunk.offset = 2;
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_E_INVALID); /* not a multiple of 4 */
    m.u.update_chunk.offset = 0xFFFFFFFCu;
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_OK);

    memset(&m, 0, sizeof m);
    m.type = WIRE_T_BOOT_REPORT;
    m.u.boot_report.running_slot = WIRE_SLOT_NONE;
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_OK);
    m.u.boot_report.running_slot = WIRE_N_SLOTS;
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_E_INVALID);

    memset(&m, 0, sizeof m);
    m.type = 0x42;
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_E_INVALID);
    m.type = 0x00;
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_E_INVALID);
    m.type = 0x0A; /* just after the device -> host types */
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_E_INVALID);
    m.type = 0x8C; /* just after the host -> device types */
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, &n) == WIRE_E_INVALID);
    m.type = WIRE_T_GET_STATUS;
    HBTEST_CHECK(t, wire_encode(NULL, 1, g_out, sizeof g_out, &n) == WIRE_E_INVALID);
    HBTEST_CHECK(t, wire_encode(&m, 1, NULL, sizeof g_out, &n) == WIRE_E_INVALID);
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, sizeof g_out, NULL) == WIRE_E_INVALID);
    HBTEST_CHECK(t, wire_encode(&m, 1, g_out, 0, &n) == WIRE_E_SPACE && n == 0u);
}

static void test_decoder_survives_null_arguments(hbtest_t *t)
{
    size_t used = 7;
    static const uint8_t zero = 0;
    wire_decoder_init(NULL, WIRE_ACCEPT_ALL);
    HBTEST_CHECK(t, wire_decoder_feed(NULL, &zero, 1, &used, &g_ev) == WIRE_EVENT_NONE && used == 0u);
    wire_decoder_init(&g_dec, WIRE_ACCEPT_ALL);
    HBTEST_CHECK(t, wire_decoder_feed(&g_dec, NULL, 5, &used, &g_ev) == WIRE_EVENT_NONE && used == 0u);
    HBTEST_CHECK(t, wire_decoder_feed(&g_dec, &zero, 1, &used, NULL) == WIRE_EVENT_NONE);
    HBTEST_CHECK(t, wire_decoder_feed(&g_dec, &zero, 0, &used, &g_ev) == WIRE_EVENT_NONE && used == 0u);
    HBTEST_CHECK(t, wire_decoder_pending(NULL) == 0u);
    HBTEST_CHECK(t, g_dec.counters.bytes == 0u);
}

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    hbtest_print("wire vectors: ");
    hbtest_print_u32(WV_N_MESSAGES);
    hbtest_print(" messages, ");
    hbtest_print_u32(WV_N_STREAMS);
    hbtest_print(" streams\n");
    hbtest_run(&t, "constants_match_the_table", test_constants_match_the_table);
    hbtest_run(&t, "crc16_vectors", test_crc16_vectors);
    hbtest_run(&t, "cobs_vectors_encode", test_cobs_vectors_encode);
    hbtest_run(&t, "cobs_vectors_decode_in_the_streaming_decoder", test_cobs_vectors_decode_in_the_streaming_decoder);
    hbtest_run(&t, "messages_encode_to_the_vector_bytes", test_messages_encode_to_the_vector_bytes);
    hbtest_run(&t, "messages_decode_to_their_fields", test_messages_decode_to_their_fields);
    hbtest_run(&t, "messages_decode_one_byte_at_a_time", test_messages_decode_one_byte_at_a_time);
    hbtest_run(&t, "streams_give_the_vector_events_and_counters", test_streams_give_the_vector_events_and_counters);
    hbtest_run(&t, "streams_one_byte_at_a_time", test_streams_one_byte_at_a_time);
    hbtest_run(&t, "streams_in_uneven_pieces", test_streams_in_uneven_pieces);
    hbtest_run(&t, "reject_reasons_name_their_counters", test_reject_reasons_name_their_counters);
    hbtest_run(&t, "config_status_vectors", test_config_status_vectors);
    hbtest_run(&t, "update_enums_take_exactly_the_table_values", test_update_enums_take_exactly_the_table_values);
    hbtest_run(&t, "truncated_or_extended_payloads_are_refused", test_truncated_or_extended_payloads_are_refused);
    hbtest_run(&t, "encode_refuses_invalid_messages", test_encode_refuses_invalid_messages);
    hbtest_run(&t, "decoder_survives_null_arguments", test_decoder_survives_null_arguments);
    port_exit(hbtest_end(&t));
}
