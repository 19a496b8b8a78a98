/*
 * test_wire_fuzz - the frame decoder under random input (firmware/lib/wire).
 *
 * On the native build (AddressSanitizer + UBSan, platformio.ini) at least WIRE_FUZZ_INPUTS = 1,000,000
 * inputs go through one long-lived decoder: random byte strings, random mutations of valid frames (bit
 * flips, replaced, inserted and deleted bytes, truncation, splices), and valid frames of random messages.
 * Every input is fed in random pieces. Checked after every input:
 *   - nothing crashes (the sanitizers abort on any memory error or undefined behaviour);
 *   - every byte is accounted for: counted by the decoder, and each byte is a delimiter, part of exactly one
 *     reported frame (intact or dropped, with its encoded length), or part of the frame in progress; the
 *     number of reported frames equals the number of non-empty delimited segments, counted here
 *     independently of the decoder;
 *   - the counters add up to the events, and each reject went to its reason's counter;
 *   - every intact frame re-encodes to exactly the decoded bytes it came from;
 *   - a random valid message of every type, the update messages included, comes back equal (encode -> decode
 *     is the identity);
 *   - after any input, a 0x00 and a valid frame always give that frame (the decoder never stops).
 * On the target (QEMU) the same runs with fewer inputs, to prove the same code on the Cortex-M4F.
 * Deterministic: a fixed seed (printed), so a failure can be replayed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hbtest.h"
#include "port.h"
#include "wire.h"

#ifndef WIRE_FUZZ_INPUTS
#if defined(__arm__)
#define WIRE_FUZZ_INPUTS 30000u
#else
#define WIRE_FUZZ_INPUTS 1000000u
#endif
#endif
#define WIRE_FUZZ_SEED 0x5EED1234ABCDEF01ull

static wire_decoder_t g_dec;
static wire_event_t g_ev;
static wire_msg_t g_msg;
static uint8_t g_input[2 * WIRE_MAX_ENCODED + 64];
static uint8_t g_frame[WIRE_MAX_ENCODED];
static uint8_t g_reencoded[WIRE_MAX_FRAME];

/* ----------------------------------------------------------------------------------------------------------- */
static uint64_t g_rng = WIRE_FUZZ_SEED;

static uint32_t rnd(void) /* xorshift64* */
{
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (uint32_t)((g_rng * 0x2545F4914F6CDD1Dull) >> 32);
}

static uint32_t below(uint32_t n) /* 0 .. n-1 */
{
    return n == 0u ? 0u : rnd() % n;
}

/* ----------------------------------------------------------------------------------------------------------- */
static const uint8_t TYPES[] = {
    WIRE_T_HELLO,        WIRE_T_BEAT,         WIRE_T_ALERT,        WIRE_T_STATUS,         WIRE_T_ACK,
    WIRE_T_ERROR,        WIRE_T_GAP,          WIRE_T_UPDATE_STATE, WIRE_T_BOOT_REPORT,    WIRE_T_SAMPLES,
    WIRE_T_CONFIG,       WIRE_T_HOST_ACK,     WIRE_T_RESEND,       WIRE_T_GET_STATUS,     WIRE_T_HELLO_REQUEST,
    WIRE_T_UPDATE_BEGIN, WIRE_T_UPDATE_CHUNK, WIRE_T_UPDATE_END,   WIRE_T_UPDATE_INSTALL, WIRE_T_UPDATE_ABORT};

/* the update result codes (sparse: 0x00-0x09, 0x10-0x17, 0x20-0x21) */
static const uint8_t UPDATE_RESULTS[] = {WIRE_UPD_OK,
                                         WIRE_UPD_BAD_SIZE,
                                         WIRE_UPD_BAD_OFFSET,
                                         WIRE_UPD_BAD_LENGTH,
                                         WIRE_UPD_OUT_OF_ORDER,
                                         WIRE_UPD_NO_TRANSFER,
                                         WIRE_UPD_INCOMPLETE,
                                         WIRE_UPD_NOT_VERIFIED,
                                         WIRE_UPD_BUSY,
                                         WIRE_UPD_FLASH,
                                         WIRE_UPD_TRANSFER_HASH,
                                         WIRE_UPD_BAD_IMAGE,
                                         WIRE_UPD_IMAGE_HASH,
                                         WIRE_UPD_UNKNOWN_KEY,
                                         WIRE_UPD_BAD_SIGNATURE,
                                         WIRE_UPD_WRONG_TARGET,
                                         WIRE_UPD_SECURITY_COUNTER,
                                         WIRE_UPD_MANIFEST_MISMATCH,
                                         WIRE_UPD_SELF_TEST_FAILED,
                                         WIRE_UPD_NOT_CONFIRMED};

static void random_str(char *dst)
{
    uint32_t n = below(WIRE_STR_MAX + 1u);
    for (uint32_t i = 0; i < n; i++) {
        dst[i] = (char)(0x20 + below(0x5F));
    }
    dst[n] = '\0';
}

static uint32_t random_u32(void)
{
    switch (below(4)) { /* edge values often */
    case 0:
        return 0u;
    case 1:
        return 0xFFFFFFFFu;
    default:
        return rnd();
    }
}

static void random_msg(wire_msg_t *m)
{
    memset(m, 0, sizeof *m);
    m->type = TYPES[below(sizeof TYPES)];
    switch (m->type) {
    case WIRE_T_HELLO:
        random_str(m->u.hello.device_id);
        random_str(m->u.hello.firmware_version);
        random_str(m->u.hello.model_version);
        for (unsigned i = 0; i < WIRE_SHA256_SIZE; i++) {
            m->u.hello.model_sha256[i] = (uint8_t)rnd();
        }
        m->u.hello.protocol_version = (uint8_t)rnd();
        m->u.hello.boot_id = random_u32();
        m->u.hello.sample_rate_hz = (uint16_t)rnd();
        break;
    case WIRE_T_BEAT:
        m->u.beat.r_sample = random_u32();
        m->u.beat.beat_class = (uint8_t)below(WIRE_NUM_CLASSES);
        for (unsigned i = 0; i < WIRE_NUM_CLASSES; i++) {
            m->u.beat.scores[i] = (int8_t)rnd();
        }
        m->u.beat.cost = random_u32();
        m->u.beat.flags = (uint8_t)rnd();
        break;
    case WIRE_T_ALERT:
        m->u.alert.beat_seq = random_u32();
        m->u.alert.r_sample = random_u32();
        m->u.alert.beat_class = (uint8_t)below(WIRE_NUM_CLASSES);
        m->u.alert.score = (int8_t)rnd();
        m->u.alert.rule = (uint8_t)rnd();
        m->u.alert.threshold = (uint8_t)rnd();
        break;
    case WIRE_T_STATUS:
        m->u.status.uptime_ms = random_u32();
        m->u.status.samples = random_u32();
        m->u.status.beats = random_u32();
        m->u.status.alerts = random_u32();
        m->u.status.corrupt_frames = random_u32();
        m->u.status.oversize_frames = random_u32();
        m->u.status.unknown_frames = random_u32();
        m->u.status.overruns = random_u32();
        m->u.status.lost = random_u32();
        m->u.status.last_seq = random_u32();
        m->u.status.ring_oldest_seq = random_u32();
        break;
    case WIRE_T_ACK:
        m->u.ack.host_seq = random_u32();
        m->u.ack.status = (uint8_t)rnd();
        break;
    case WIRE_T_ERROR:
        m->u.error.code = (uint16_t)rnd();
        m->u.error.host_seq = random_u32();
        random_str(m->u.error.text);
        break;
    case WIRE_T_GAP:
        m->u.gap.first = 1u + below(0xFFFFFFFEu);
        m->u.gap.last = m->u.gap.first + below(0xFFFFFFFFu - m->u.gap.first + 1u);
        break;
    case WIRE_T_SAMPLES:
        m->u.samples.first_sample = random_u32();
        m->u.samples.count = (uint16_t)(below(3) == 0 ? WIRE_SAMPLES_MAX : below(WIRE_SAMPLES_MAX + 1u));
        for (unsigned i = 0; i < m->u.samples.count; i++) {
            m->u.samples.samples[i] = (int16_t)rnd();
        }
        break;
    case WIRE_T_CONFIG:
        for (unsigned i = 0; i < WIRE_NUM_CLASSES; i++) {
            m->u.config.thresholds[i] = (uint8_t)rnd();
        }
        m->u.config.k = (uint8_t)rnd();
        m->u.config.window = (uint8_t)rnd();
        m->u.config.enabled = (uint8_t)rnd();
        break;
    case WIRE_T_HOST_ACK:
        m->u.host_ack.device_seq = random_u32();
        break;
    case WIRE_T_RESEND:
        m->u.resend.after_seq = random_u32();
        break;
    case WIRE_T_UPDATE_STATE:
        m->u.update_state.host_seq = random_u32();
        m->u.update_state.state = (uint8_t)below(WIRE_XFER_REFUSED + 1u);
        m->u.update_state.result = UPDATE_RESULTS[below(sizeof UPDATE_RESULTS)];
        m->u.update_state.next_offset = random_u32();
        break;
    case WIRE_T_BOOT_REPORT:
        m->u.boot_report.running_slot = below(4) == 0 ? (uint8_t)WIRE_SLOT_NONE : (uint8_t)below(WIRE_N_SLOTS);
        m->u.boot_report.version_major = (uint8_t)rnd();
        m->u.boot_report.version_minor = (uint8_t)rnd();
        m->u.boot_report.version_revision = (uint16_t)rnd();
        m->u.boot_report.version_build = random_u32();
        m->u.boot_report.confirmed = (uint8_t)below(2);
        m->u.boot_report.last_outcome = (uint8_t)below(WIRE_OUTCOME_REVERTED + 1u);
        m->u.boot_report.reason = UPDATE_RESULTS[below(sizeof UPDATE_RESULTS)];
        m->u.boot_report.security_counter = random_u32();
        break;
    case WIRE_T_UPDATE_BEGIN:
        m->u.update_begin.image_size = random_u32();
        for (unsigned i = 0; i < WIRE_SHA256_SIZE; i++) {
            m->u.update_begin.image_sha256[i] = (uint8_t)rnd();
        }
        m->u.update_begin.version_major = (uint8_t)rnd();
        m->u.update_begin.version_minor = (uint8_t)rnd();
        m->u.update_begin.version_revision = (uint16_t)rnd();
        m->u.update_begin.version_build = random_u32();
        m->u.update_begin.security_counter = random_u32();
        break;
    case WIRE_T_UPDATE_CHUNK:
        m->u.update_chunk.offset = random_u32() & ~(uint32_t)(WIRE_CHUNK_ALIGN - 1u);
        m->u.update_chunk.length = (uint16_t)(below(3) == 0 ? WIRE_CHUNK_MAX : 1u + below(WIRE_CHUNK_MAX));
        for (unsigned i = 0; i < m->u.update_chunk.length; i++) {
            m->u.update_chunk.data[i] = (uint8_t)rnd();
        }
        break;
    default: /* GET_STATUS, HELLO_REQUEST, UPDATE_END, UPDATE_INSTALL, UPDATE_ABORT */
        break;
    }
}

/* A valid frame of a random message into g_frame; returns its length. */
static size_t random_frame(wire_msg_t *m, uint32_t *seq)
{
    size_t n = 0;
    random_msg(m);
    *seq = random_u32();
    if (wire_encode(m, *seq, g_frame, sizeof g_frame, &n) != WIRE_OK) {
        return 0;
    }
    return n;
}

/* ----------------------------------------------------------------------------------------------------------- */
typedef struct {
    uint64_t fed;         /* bytes fed */
    uint64_t zeros;       /* of which delimiters */
    uint64_t open;        /* bytes since the last delimiter, counted here */
    uint64_t segments;    /* non-empty delimited segments, counted here */
    uint64_t events;      /* events the decoder reported */
    uint64_t event_bytes; /* sum of their raw_len */
    uint64_t frames, rejects;
    uint64_t by_reason[8];
    uint32_t frames_by_type[256]; /* intact frames per message type */
    uint32_t bad_reencode;        /* intact frames whose re-encoding differs from their bytes */
    uint32_t bad_reject;          /* rejects with an impossible reason or header */
    uint32_t last_kind;
    wire_msg_t last_msg;
    uint32_t last_seq;
} tally_t;

static tally_t g_tally;

static void on_event(tally_t *s, const wire_event_t *ev)
{
    s->events++;
    s->event_bytes += ev->raw_len;
    s->last_kind = (uint32_t)ev->kind;
    if (ev->kind == WIRE_EVENT_FRAME) {
        size_t n = 0;
        s->frames++;
        if (ev->reason != WIRE_REASON_NONE || !ev->has_header ||
            wire_frame_bytes(&ev->msg, ev->seq, g_reencoded, sizeof g_reencoded, &n) != WIRE_OK || n != ev->frame_len ||
            ev->frame == NULL || memcmp(g_reencoded, ev->frame, n) != 0) {
            s->bad_reencode++;
        }
        s->frames_by_type[ev->type]++;
        s->last_msg = ev->msg;
        s->last_seq = ev->seq;
        return;
    }
    s->rejects++;
    if (ev->kind != WIRE_EVENT_REJECT || ev->reason < WIRE_REASON_COBS || ev->reason > WIRE_REASON_TYPE) {
        s->bad_reject++;
        return;
    }
    s->by_reason[ev->reason]++;
    bool header_expected =
        ev->reason == WIRE_REASON_VERSION || ev->reason == WIRE_REASON_TYPE || ev->reason == WIRE_REASON_PAYLOAD;
    if (ev->has_header != header_expected) {
        s->bad_reject++;
    }
}

/* Feeds `len` bytes in random pieces, tallying every event. */
static void feed(tally_t *s, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) { /* the independent count of segments */
        if (data[i] == 0u) {
            s->zeros++;
            if (s->open > 0u) {
                s->segments++;
            }
            s->open = 0;
        } else {
            s->open++;
        }
    }
    s->fed += len;
    size_t pos = 0;
    while (pos < len) {
        size_t piece = below(4) == 0 ? len - pos : 1u + below((uint32_t)(len - pos));
        size_t end = pos + piece;
        while (pos < end) {
            size_t used = 0;
            wire_event_kind_t kind = wire_decoder_feed(&g_dec, data + pos, end - pos, &used, &g_ev);
            if (used == 0u) { /* would loop for ever: count it as a bad event and stop */
                s->bad_reject++;
                return;
            }
            pos += used;
            if (kind != WIRE_EVENT_NONE) {
                on_event(s, &g_ev);
            }
        }
    }
}

static bool accounted(hbtest_t *t, const tally_t *s)
{
    const wire_counters_t *c = &g_dec.counters;
    bool ok = true;
    ok &= HBTEST_CHECK(t, (uint32_t)s->fed == c->bytes);
    ok &= HBTEST_CHECK(t, s->events == s->segments);
    ok &= HBTEST_CHECK(t, s->event_bytes + s->zeros + wire_decoder_pending(&g_dec) == s->fed);
    ok &= HBTEST_CHECK(t, s->open == wire_decoder_pending(&g_dec));
    ok &= HBTEST_CHECK(t, (uint64_t)c->frames + c->corrupt + c->oversize + c->unknown == s->events);
    ok &= HBTEST_CHECK(t, c->frames == s->frames);
    ok &= HBTEST_CHECK(t, c->corrupt == s->by_reason[WIRE_REASON_COBS] + s->by_reason[WIRE_REASON_SHORT] +
                                            s->by_reason[WIRE_REASON_CRC] + s->by_reason[WIRE_REASON_PAYLOAD]);
    ok &= HBTEST_CHECK(t, c->oversize == s->by_reason[WIRE_REASON_OVERSIZE]);
    ok &= HBTEST_CHECK(t, c->unknown == s->by_reason[WIRE_REASON_VERSION] + s->by_reason[WIRE_REASON_TYPE]);
    ok &= HBTEST_CHECK(t, s->bad_reencode == 0u);
    ok &= HBTEST_CHECK(t, s->bad_reject == 0u);
    return ok;
}

/* 0x00 and a valid frame after whatever came before: that frame must come out. */
static bool resyncs(tally_t *s)
{
    static const uint8_t delimiter = 0u;
    wire_msg_t *m = &g_msg;
    uint32_t seq = 0;
    size_t n = random_frame(m, &seq);
    if (n == 0u) {
        return false;
    }
    feed(s, &delimiter, 1);
    uint64_t frames_before = s->frames;
    feed(s, g_frame, n);
    return s->frames == frames_before + 1u && s->last_kind == WIRE_EVENT_FRAME && s->last_seq == seq &&
           s->last_msg.type == m->type;
}

/* ----------------------------------------------------------------------------------------------------------- */
static size_t make_random_bytes(uint8_t *out)
{
    size_t len = below(8) == 0 ? below(sizeof g_input) : below(97);
    uint32_t zero_odds = below(4) == 0 ? 0u : 1u + below(64); /* none, or dense to sparse delimiters */
    for (size_t i = 0; i < len; i++) {
        out[i] = (zero_odds != 0u && below(zero_odds) == 0) ? 0u : (uint8_t)(1u + below(255));
    }
    return len;
}

/* A frame whose decoded bytes were changed (header, payload or length) and whose CRC and COBS were then made
 * right again: it reaches the version, type and payload checks, and sometimes is a different valid frame. */
static size_t make_resealed_frame(uint8_t *out)
{
    static uint8_t decoded[WIRE_MAX_FRAME + 8];
    size_t len = 0;
    uint32_t seq = 0;
    random_msg(&g_msg);
    seq = random_u32();
    if (wire_frame_bytes(&g_msg, seq, decoded, sizeof decoded, &len) != WIRE_OK) {
        return 0;
    }
    len -= WIRE_CRC_SIZE;
    switch (below(5)) {
    case 0: /* version */
        decoded[0] = (uint8_t)(below(2) == 0 ? below(3) : rnd());
        break;
    case 1: /* type */
        decoded[1] = (uint8_t)(below(2) == 0 ? TYPES[below(sizeof TYPES)] : rnd());
        break;
    case 2: /* a payload byte */
        if (len > WIRE_HEADER_SIZE) {
            decoded[WIRE_HEADER_SIZE + below((uint32_t)(len - WIRE_HEADER_SIZE))] = (uint8_t)rnd();
        }
        break;
    case 3: /* payload one byte shorter or longer */
        if (below(2) == 0 && len > WIRE_HEADER_SIZE) {
            len--;
        } else if (len < WIRE_MAX_FRAME - WIRE_CRC_SIZE) {
            decoded[len++] = (uint8_t)rnd();
        }
        break;
    default: /* cut the payload anywhere */
        len = WIRE_HEADER_SIZE + below((uint32_t)(len - WIRE_HEADER_SIZE + 1u));
        break;
    }
    uint16_t crc = wire_crc16(0xFFFFu, decoded, len);
    decoded[len++] = (uint8_t)(crc & 0xFFu);
    decoded[len++] = (uint8_t)(crc >> 8);
    size_t n = wire_cobs_encode(decoded, len, out, sizeof g_input - 1u);
    out[n++] = 0u;
    return n;
}

static size_t make_mutated_frame(uint8_t *out)
{
    uint32_t seq = 0;
    if (below(3) == 0) {
        return make_resealed_frame(out);
    }
    size_t len = random_frame(&g_msg, &seq);
    memcpy(out, g_frame, len);
    uint32_t edits = 1u + below(4);
    for (uint32_t e = 0; e < edits && len > 0u; e++) {
        size_t at = below((uint32_t)len);
        switch (below(6)) {
        case 0: /* flip a bit */
            out[at] ^= (uint8_t)(1u << below(8));
            break;
        case 1: /* replace a byte */
            out[at] = (uint8_t)rnd();
            break;
        case 2: /* insert a byte */
            if (len < sizeof g_input) {
                memmove(out + at + 1, out + at, len - at);
                out[at] = (uint8_t)rnd();
                len++;
            }
            break;
        case 3: /* delete a byte */
            memmove(out + at, out + at + 1, len - at - 1u);
            len--;
            break;
        case 4: /* truncate */
            len = at;
            break;
        default: { /* splice: the head of this frame and the tail of another */
            uint32_t seq2 = 0;
            size_t n2 = random_frame(&g_msg, &seq2);
            size_t from = below((uint32_t)n2);
            size_t take = n2 - from;
            if (at + take > sizeof g_input) {
                take = sizeof g_input - at;
            }
            memcpy(out + at, g_frame + from, take);
            len = at + take;
            break;
        }
        }
    }
    return len;
}

static void run_fuzz(hbtest_t *t, uint32_t inputs, int mode)
{
    tally_t *s = &g_tally;
    uint32_t resync_failures = 0, round_trip_failures = 0;
    for (uint32_t i = 0; i < inputs; i++) {
        size_t len;
        if (mode == 0) {
            len = make_random_bytes(g_input);
            feed(s, g_input, len);
        } else if (mode == 1) {
            len = make_mutated_frame(g_input);
            feed(s, g_input, len);
        } else { /* a valid frame of a random message, right after a delimiter: must come back equal */
            static const uint8_t delimiter = 0u;
            uint32_t seq = 0;
            wire_msg_t *m = &g_msg;
            len = random_frame(m, &seq);
            feed(s, &delimiter, 1);
            uint64_t frames_before = s->frames;
            feed(s, g_frame, len);
            size_t n = 0;
            /* equal message: its re-encoding is the same frame */
            if (len == 0u || s->frames != frames_before + 1u || s->last_seq != seq ||
                wire_encode(&s->last_msg, seq, g_input, sizeof g_input, &n) != WIRE_OK || n != len ||
                memcmp(g_input, g_frame, len) != 0) {
                round_trip_failures++;
            }
        }
        if (mode != 2 && (i % 8u == 0u) && !resyncs(s)) {
            resync_failures++;
        }
    }
    HBTEST_CHECK(t, resync_failures == 0u);
    HBTEST_CHECK(t, round_trip_failures == 0u);
    accounted(t, s);
}

static uint32_t g_inputs_run;

static void test_random_bytes_never_break_the_decoder(hbtest_t *t)
{
    uint32_t n = WIRE_FUZZ_INPUTS * 2u / 5u;
    run_fuzz(t, n, 0);
    g_inputs_run += n;
    HBTEST_CHECK(t, g_tally.by_reason[WIRE_REASON_OVERSIZE] > 0u); /* the long inputs reached DISCARD */
    HBTEST_CHECK(t, g_tally.by_reason[WIRE_REASON_COBS] > 0u && g_tally.by_reason[WIRE_REASON_SHORT] > 0u);
}

static void test_mutated_frames_never_break_the_decoder(hbtest_t *t)
{
    uint32_t n = WIRE_FUZZ_INPUTS * 2u / 5u;
    run_fuzz(t, n, 1);
    g_inputs_run += n;
    HBTEST_CHECK(t, g_tally.by_reason[WIRE_REASON_CRC] > 0u);
    HBTEST_CHECK(t, g_tally.by_reason[WIRE_REASON_VERSION] > 0u && g_tally.by_reason[WIRE_REASON_TYPE] > 0u);
    HBTEST_CHECK(t, g_tally.by_reason[WIRE_REASON_PAYLOAD] > 0u);
}

static void test_random_messages_round_trip(hbtest_t *t)
{
    uint32_t n = WIRE_FUZZ_INPUTS - WIRE_FUZZ_INPUTS * 2u / 5u * 2u;
    run_fuzz(t, n, 2);
    g_inputs_run += n;
    for (size_t i = 0; i < sizeof TYPES; i++) { /* every message type, the update messages too, came through */
        HBTEST_CHECK(t, g_tally.frames_by_type[TYPES[i]] > 0u);
    }
}

static void test_every_byte_is_accounted_for(hbtest_t *t)
{
    HBTEST_CHECK(t, g_inputs_run == WIRE_FUZZ_INPUTS);
    HBTEST_CHECK(t, g_tally.fed > (uint64_t)WIRE_FUZZ_INPUTS);
    HBTEST_CHECK(t, accounted(t, &g_tally));
    /* a delimiter now ends the open frame (if any) and leaves nothing pending */
    static const uint8_t delimiter = 0u;
    feed(&g_tally, &delimiter, 1);
    HBTEST_CHECK(t, wire_decoder_pending(&g_dec) == 0u);
    HBTEST_CHECK(t, accounted(t, &g_tally));
}

int main(void)
{
    hbtest_t t;
    port_init();
    wire_decoder_init(&g_dec, WIRE_ACCEPT_ALL);
    memset(&g_tally, 0, sizeof g_tally);
    hbtest_begin(&t);
    hbtest_run(&t, "random_bytes_never_break_the_decoder", test_random_bytes_never_break_the_decoder);
    hbtest_run(&t, "mutated_frames_never_break_the_decoder", test_mutated_frames_never_break_the_decoder);
    hbtest_run(&t, "random_messages_round_trip", test_random_messages_round_trip);
    hbtest_run(&t, "every_byte_is_accounted_for", test_every_byte_is_accounted_for);
    const wire_counters_t *c = &g_dec.counters;
    hbtest_print("wire fuzz: inputs=");
    hbtest_print_u32(g_inputs_run);
    hbtest_print(" bytes=");
    hbtest_print_u32(c->bytes);
    hbtest_print(" frames=");
    hbtest_print_u32(c->frames);
    hbtest_print(" corrupt=");
    hbtest_print_u32(c->corrupt);
    hbtest_print(" oversize=");
    hbtest_print_u32(c->oversize);
    hbtest_print(" unknown=");
    hbtest_print_u32(c->unknown);
    hbtest_print(" seed=0x5EED1234ABCDEF01\n");
    port_exit(hbtest_end(&t));
}
