/* wire.c - see wire.h and docs/protocol.md. Portable C11; no allocation, no static state, no I/O. */
#include "wire.h"

#include <string.h>

enum { ST_IDLE = 0, ST_FRAME = 1, ST_DISCARD = 2 };

/* ------------------------------------------------------------------------------------------------------------
 * CRC-16/CCITT-FALSE, bitwise (no table: 256 x 2 bytes of flash saved; frames are short)
 * ---------------------------------------------------------------------------------------------------------- */
uint16_t wire_crc16(uint16_t crc, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint16_t)data[i] << 8);
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

/* ------------------------------------------------------------------------------------------------------------
 * writer: plain bytes or COBS on the fly (no temporary frame buffer), with the CRC alongside
 * ---------------------------------------------------------------------------------------------------------- */
typedef struct {
    uint8_t *out;
    size_t cap;
    size_t pos;
    bool cobs;
    bool ok;
    bool closed_full; /* COBS: the last byte closed a 254-byte block */
    size_t code_pos;  /* COBS: where the current block's code byte goes */
    uint8_t code;     /* COBS: current block length + 1 */
    uint16_t crc;
} writer_t;

static void writer_init(writer_t *w, uint8_t *out, size_t cap, bool cobs)
{
    w->out = out;
    w->cap = cap;
    w->pos = 0;
    w->cobs = cobs;
    w->ok = true;
    w->closed_full = false;
    w->code_pos = 0;
    w->code = 1;
    w->crc = 0xFFFFu;
    if (cobs) {
        if (cap < 1u) {
            w->ok = false;
        } else {
            w->pos = 1; /* the first block's code byte */
        }
    }
}

static void writer_raw(writer_t *w, uint8_t b)
{
    if (!w->ok || w->pos >= w->cap) {
        w->ok = false;
        return;
    }
    w->out[w->pos++] = b;
}

static void writer_byte_nocrc(writer_t *w, uint8_t b)
{
    if (!w->cobs) {
        writer_raw(w, b);
        return;
    }
    if (!w->ok) {
        return;
    }
    w->closed_full = false;
    if (b == 0u) {
        w->out[w->code_pos] = w->code;
        w->code_pos = w->pos;
        w->code = 1;
        writer_raw(w, 0u); /* placeholder for the next code byte */
        return;
    }
    writer_raw(w, b);
    w->code++;
    if (w->code == 0xFFu) {
        w->out[w->code_pos] = 0xFFu;
        w->code_pos = w->pos;
        w->code = 1;
        w->closed_full = true;
        writer_raw(w, 0u);
    }
}

static void writer_u8(writer_t *w, uint8_t b)
{
    w->crc = wire_crc16(w->crc, &b, 1);
    writer_byte_nocrc(w, b);
}

static void writer_u16(writer_t *w, uint16_t v)
{
    writer_u8(w, (uint8_t)(v & 0xFFu));
    writer_u8(w, (uint8_t)(v >> 8));
}

static void writer_u32(writer_t *w, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        writer_u8(w, (uint8_t)(v >> (8 * i)));
    }
}

static void writer_bytes(writer_t *w, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        writer_u8(w, p[i]);
    }
}

static void writer_str(writer_t *w, const char *s)
{
    size_t n = strlen(s); /* checked to be <= WIRE_STR_MAX before */
    writer_u8(w, (uint8_t)n);
    writer_bytes(w, (const uint8_t *)s, n);
}

/* Ends the COBS sequence (no delimiter); returns the length written or 0. */
static size_t writer_cobs_end(writer_t *w)
{
    if (!w->ok) {
        return 0;
    }
    if (w->closed_full) {
        w->pos--; /* no redundant code byte after a final 254-byte block */
    } else {
        w->out[w->code_pos] = w->code;
    }
    return w->pos;
}

size_t wire_cobs_encode(const uint8_t *data, size_t len, uint8_t *out, size_t cap)
{
    writer_t w;
    if (out == NULL || (data == NULL && len > 0u)) {
        return 0;
    }
    writer_init(&w, out, cap, true);
    for (size_t i = 0; i < len; i++) {
        writer_byte_nocrc(&w, data[i]);
    }
    return writer_cobs_end(&w);
}

/* ------------------------------------------------------------------------------------------------------------
 * message checks and payloads
 * ---------------------------------------------------------------------------------------------------------- */
static bool printable(uint8_t c)
{
    return c >= 0x20u && c <= 0x7Eu;
}

static bool str_ok(const char *s, size_t cap)
{
    size_t n = 0;
    while (n < cap && s[n] != '\0') {
        if (!printable((uint8_t)s[n])) {
            return false;
        }
        n++;
    }
    return n < cap && n <= WIRE_STR_MAX; /* terminated within the array */
}

static bool type_known(uint8_t t)
{
    return (t >= WIRE_T_HELLO && t <= WIRE_T_BOOT_REPORT) || (t >= WIRE_T_SAMPLES && t <= WIRE_T_UPDATE_ABORT);
}

bool wire_update_result_known(uint8_t result)
{
    return result <= WIRE_UPD_FLASH || (result >= WIRE_UPD_TRANSFER_HASH && result <= WIRE_UPD_MANIFEST_MISMATCH) ||
           result == WIRE_UPD_SELF_TEST_FAILED || result == WIRE_UPD_NOT_CONFIRMED;
}

static bool update_state_ok(const wire_update_state_t *s)
{
    return s->state <= WIRE_XFER_REFUSED && wire_update_result_known(s->result);
}

static bool boot_report_ok(const wire_boot_report_t *b)
{
    return (b->running_slot < WIRE_N_SLOTS || b->running_slot == WIRE_SLOT_NONE) && b->confirmed <= 1u &&
           b->last_outcome <= WIRE_OUTCOME_REVERTED && wire_update_result_known(b->reason);
}

static bool chunk_ok(uint32_t offset, uint16_t length)
{
    return offset % WIRE_CHUNK_ALIGN == 0u && length >= 1u && length <= WIRE_CHUNK_MAX;
}

static bool msg_ok(const wire_msg_t *m)
{
    switch (m->type) {
    case WIRE_T_HELLO:
        return str_ok(m->u.hello.device_id, sizeof m->u.hello.device_id) &&
               str_ok(m->u.hello.firmware_version, sizeof m->u.hello.firmware_version) &&
               str_ok(m->u.hello.model_version, sizeof m->u.hello.model_version);
    case WIRE_T_BEAT:
        return m->u.beat.beat_class < WIRE_NUM_CLASSES;
    case WIRE_T_ALERT:
        return m->u.alert.beat_class < WIRE_NUM_CLASSES;
    case WIRE_T_ERROR:
        return str_ok(m->u.error.text, sizeof m->u.error.text);
    case WIRE_T_GAP:
        return m->u.gap.first >= 1u && m->u.gap.first <= m->u.gap.last;
    case WIRE_T_SAMPLES:
        return m->u.samples.count <= WIRE_SAMPLES_MAX;
    case WIRE_T_UPDATE_STATE:
        return update_state_ok(&m->u.update_state);
    case WIRE_T_BOOT_REPORT:
        return boot_report_ok(&m->u.boot_report);
    case WIRE_T_UPDATE_CHUNK:
        return chunk_ok(m->u.update_chunk.offset, m->u.update_chunk.length);
    default:
        return type_known(m->type);
    }
}

static void write_payload(writer_t *w, const wire_msg_t *m)
{
    switch (m->type) {
    case WIRE_T_HELLO: {
        const wire_hello_t *h = &m->u.hello;
        writer_str(w, h->device_id);
        writer_str(w, h->firmware_version);
        writer_str(w, h->model_version);
        writer_bytes(w, h->model_sha256, WIRE_SHA256_SIZE);
        writer_u8(w, h->protocol_version);
        writer_u32(w, h->boot_id);
        writer_u16(w, h->sample_rate_hz);
        break;
    }
    case WIRE_T_BEAT: {
        const wire_beat_t *b = &m->u.beat;
        writer_u32(w, b->r_sample);
        writer_u8(w, b->beat_class);
        for (unsigned i = 0; i < WIRE_NUM_CLASSES; i++) {
            writer_u8(w, (uint8_t)b->scores[i]);
        }
        writer_u32(w, b->cost);
        writer_u8(w, b->flags);
        break;
    }
    case WIRE_T_ALERT: {
        const wire_alert_t *a = &m->u.alert;
        writer_u32(w, a->beat_seq);
        writer_u32(w, a->r_sample);
        writer_u8(w, a->beat_class);
        writer_u8(w, (uint8_t)a->score);
        writer_u8(w, a->rule);
        writer_u8(w, a->threshold);
        break;
    }
    case WIRE_T_STATUS: {
        const wire_status_t *s = &m->u.status;
        const uint32_t fields[11] = {s->uptime_ms,      s->samples,         s->beats,          s->alerts,
                                     s->corrupt_frames, s->oversize_frames, s->unknown_frames, s->overruns,
                                     s->lost,           s->last_seq,        s->ring_oldest_seq};
        for (unsigned i = 0; i < 11u; i++) {
            writer_u32(w, fields[i]);
        }
        break;
    }
    case WIRE_T_ACK:
        writer_u32(w, m->u.ack.host_seq);
        writer_u8(w, m->u.ack.status);
        break;
    case WIRE_T_ERROR:
        writer_u16(w, m->u.error.code);
        writer_u32(w, m->u.error.host_seq);
        writer_str(w, m->u.error.text);
        break;
    case WIRE_T_GAP:
        writer_u32(w, m->u.gap.first);
        writer_u32(w, m->u.gap.last);
        break;
    case WIRE_T_SAMPLES:
        writer_u32(w, m->u.samples.first_sample);
        writer_u16(w, m->u.samples.count);
        for (unsigned i = 0; i < m->u.samples.count; i++) {
            writer_u16(w, (uint16_t)m->u.samples.samples[i]);
        }
        break;
    case WIRE_T_CONFIG:
        writer_bytes(w, m->u.config.thresholds, WIRE_NUM_CLASSES);
        writer_u8(w, m->u.config.k);
        writer_u8(w, m->u.config.window);
        writer_u8(w, m->u.config.enabled);
        break;
    case WIRE_T_HOST_ACK:
        writer_u32(w, m->u.host_ack.device_seq);
        break;
    case WIRE_T_RESEND:
        writer_u32(w, m->u.resend.after_seq);
        break;
    case WIRE_T_UPDATE_STATE:
        writer_u32(w, m->u.update_state.host_seq);
        writer_u8(w, m->u.update_state.state);
        writer_u8(w, m->u.update_state.result);
        writer_u32(w, m->u.update_state.next_offset);
        break;
    case WIRE_T_BOOT_REPORT: {
        const wire_boot_report_t *b = &m->u.boot_report;
        writer_u8(w, b->running_slot);
        writer_u8(w, b->version_major);
        writer_u8(w, b->version_minor);
        writer_u16(w, b->version_revision);
        writer_u32(w, b->version_build);
        writer_u8(w, b->confirmed);
        writer_u8(w, b->last_outcome);
        writer_u8(w, b->reason);
        writer_u32(w, b->security_counter);
        break;
    }
    case WIRE_T_UPDATE_BEGIN: {
        const wire_update_begin_t *b = &m->u.update_begin;
        writer_u32(w, b->image_size);
        writer_bytes(w, b->image_sha256, WIRE_SHA256_SIZE);
        writer_u8(w, b->version_major);
        writer_u8(w, b->version_minor);
        writer_u16(w, b->version_revision);
        writer_u32(w, b->version_build);
        writer_u32(w, b->security_counter);
        break;
    }
    case WIRE_T_UPDATE_CHUNK:
        writer_u32(w, m->u.update_chunk.offset);
        writer_u16(w, m->u.update_chunk.length);
        writer_bytes(w, m->u.update_chunk.data, m->u.update_chunk.length);
        break;
    default: /* GET_STATUS, HELLO_REQUEST, UPDATE_END, UPDATE_INSTALL, UPDATE_ABORT: no payload */
        break;
    }
}

static wire_rc_t encode_with(const wire_msg_t *msg, uint32_t seq, uint8_t *out, size_t cap, size_t *written, bool cobs)
{
    writer_t w;
    if (written != NULL) {
        *written = 0;
    }
    if (msg == NULL || out == NULL || written == NULL || !msg_ok(msg)) {
        return WIRE_E_INVALID;
    }
    writer_init(&w, out, cap, cobs);
    writer_u8(&w, (uint8_t)WIRE_PROTOCOL_VERSION);
    writer_u8(&w, msg->type);
    writer_u32(&w, seq);
    write_payload(&w, msg);
    uint16_t crc = w.crc;
    writer_byte_nocrc(&w, (uint8_t)(crc & 0xFFu));
    writer_byte_nocrc(&w, (uint8_t)(crc >> 8));
    size_t n = w.pos;
    if (cobs) {
        n = writer_cobs_end(&w);
        if (w.ok) {
            w.pos = n;
            writer_raw(&w, 0u); /* the delimiter */
            n = w.pos;
        }
    }
    if (!w.ok) {
        return WIRE_E_SPACE;
    }
    *written = n;
    return WIRE_OK;
}

wire_rc_t wire_encode(const wire_msg_t *msg, uint32_t seq, uint8_t *out, size_t cap, size_t *written)
{
    return encode_with(msg, seq, out, cap, written, true);
}

wire_rc_t wire_frame_bytes(const wire_msg_t *msg, uint32_t seq, uint8_t *out, size_t cap, size_t *written)
{
    return encode_with(msg, seq, out, cap, written, false);
}

uint8_t wire_config_status(const wire_config_t *cfg)
{
    if (cfg == NULL || (cfg->enabled & WIRE_CFG_RESERVED) != 0u) {
        return WIRE_ACK_INVALID;
    }
    if ((cfg->enabled & WIRE_CFG_RUN_RULE) != 0u && !(cfg->k >= 1u && cfg->k <= cfg->window)) {
        return WIRE_ACK_INVALID;
    }
    return WIRE_ACK_OK;
}

/* ------------------------------------------------------------------------------------------------------------
 * decoder
 * ---------------------------------------------------------------------------------------------------------- */
typedef struct {
    const uint8_t *p;
    size_t n;
    size_t pos;
    bool ok;
} reader_t;

static const uint8_t *reader_take(reader_t *r, size_t n)
{
    if (!r->ok || n > r->n - r->pos) {
        r->ok = false;
        return NULL;
    }
    const uint8_t *at = r->p + r->pos;
    r->pos += n;
    return at;
}

static uint8_t reader_u8(reader_t *r)
{
    const uint8_t *at = reader_take(r, 1);
    return at != NULL ? at[0] : 0u;
}

static uint16_t reader_u16(reader_t *r)
{
    const uint8_t *at = reader_take(r, 2);
    return at != NULL ? (uint16_t)(at[0] | ((uint16_t)at[1] << 8)) : 0u;
}

static uint32_t reader_u32(reader_t *r)
{
    const uint8_t *at = reader_take(r, 4);
    return at != NULL ? (uint32_t)at[0] | ((uint32_t)at[1] << 8) | ((uint32_t)at[2] << 16) | ((uint32_t)at[3] << 24)
                      : 0u;
}

static void reader_bytes(reader_t *r, uint8_t *dst, size_t n)
{
    const uint8_t *at = reader_take(r, n);
    if (at != NULL) {
        memcpy(dst, at, n);
    }
}

static void reader_str(reader_t *r, char dst[WIRE_STR_MAX + 1])
{
    uint8_t n = reader_u8(r);
    if (n > WIRE_STR_MAX) {
        r->ok = false;
        return;
    }
    const uint8_t *at = reader_take(r, n);
    if (at == NULL) {
        return;
    }
    for (uint8_t i = 0; i < n; i++) {
        if (!printable(at[i])) {
            r->ok = false;
            return;
        }
        dst[i] = (char)at[i];
    }
    dst[n] = '\0';
}

static bool read_payload(reader_t *r, wire_msg_t *m)
{
    switch (m->type) {
    case WIRE_T_HELLO: {
        wire_hello_t *h = &m->u.hello;
        reader_str(r, h->device_id);
        reader_str(r, h->firmware_version);
        reader_str(r, h->model_version);
        reader_bytes(r, h->model_sha256, WIRE_SHA256_SIZE);
        h->protocol_version = reader_u8(r);
        h->boot_id = reader_u32(r);
        h->sample_rate_hz = reader_u16(r);
        break;
    }
    case WIRE_T_BEAT: {
        wire_beat_t *b = &m->u.beat;
        b->r_sample = reader_u32(r);
        b->beat_class = reader_u8(r);
        if (b->beat_class >= WIRE_NUM_CLASSES) {
            return false;
        }
        for (unsigned i = 0; i < WIRE_NUM_CLASSES; i++) {
            b->scores[i] = (int8_t)reader_u8(r);
        }
        b->cost = reader_u32(r);
        b->flags = reader_u8(r);
        break;
    }
    case WIRE_T_ALERT: {
        wire_alert_t *a = &m->u.alert;
        a->beat_seq = reader_u32(r);
        a->r_sample = reader_u32(r);
        a->beat_class = reader_u8(r);
        if (a->beat_class >= WIRE_NUM_CLASSES) {
            return false;
        }
        a->score = (int8_t)reader_u8(r);
        a->rule = reader_u8(r);
        a->threshold = reader_u8(r);
        break;
    }
    case WIRE_T_STATUS: {
        wire_status_t *s = &m->u.status;
        uint32_t *const fields[11] = {&s->uptime_ms,      &s->samples,         &s->beats,          &s->alerts,
                                      &s->corrupt_frames, &s->oversize_frames, &s->unknown_frames, &s->overruns,
                                      &s->lost,           &s->last_seq,        &s->ring_oldest_seq};
        for (unsigned i = 0; i < 11u; i++) {
            *fields[i] = reader_u32(r);
        }
        break;
    }
    case WIRE_T_ACK:
        m->u.ack.host_seq = reader_u32(r);
        m->u.ack.status = reader_u8(r);
        break;
    case WIRE_T_ERROR:
        m->u.error.code = reader_u16(r);
        m->u.error.host_seq = reader_u32(r);
        reader_str(r, m->u.error.text);
        break;
    case WIRE_T_GAP:
        m->u.gap.first = reader_u32(r);
        m->u.gap.last = reader_u32(r);
        if (r->ok && !(m->u.gap.first >= 1u && m->u.gap.first <= m->u.gap.last)) {
            return false;
        }
        break;
    case WIRE_T_SAMPLES: {
        wire_samples_t *s = &m->u.samples;
        s->first_sample = reader_u32(r);
        s->count = reader_u16(r);
        if (!r->ok || s->count > WIRE_SAMPLES_MAX || r->n - r->pos != 2u * (size_t)s->count) {
            return false;
        }
        for (unsigned i = 0; i < s->count; i++) {
            s->samples[i] = (int16_t)reader_u16(r);
        }
        break;
    }
    case WIRE_T_CONFIG:
        reader_bytes(r, m->u.config.thresholds, WIRE_NUM_CLASSES);
        m->u.config.k = reader_u8(r);
        m->u.config.window = reader_u8(r);
        m->u.config.enabled = reader_u8(r);
        break;
    case WIRE_T_HOST_ACK:
        m->u.host_ack.device_seq = reader_u32(r);
        break;
    case WIRE_T_RESEND:
        m->u.resend.after_seq = reader_u32(r);
        break;
    case WIRE_T_UPDATE_STATE:
        m->u.update_state.host_seq = reader_u32(r);
        m->u.update_state.state = reader_u8(r);
        m->u.update_state.result = reader_u8(r);
        m->u.update_state.next_offset = reader_u32(r);
        if (r->ok && !update_state_ok(&m->u.update_state)) {
            return false;
        }
        break;
    case WIRE_T_BOOT_REPORT: {
        wire_boot_report_t *b = &m->u.boot_report;
        b->running_slot = reader_u8(r);
        b->version_major = reader_u8(r);
        b->version_minor = reader_u8(r);
        b->version_revision = reader_u16(r);
        b->version_build = reader_u32(r);
        b->confirmed = reader_u8(r);
        b->last_outcome = reader_u8(r);
        b->reason = reader_u8(r);
        b->security_counter = reader_u32(r);
        if (r->ok && !boot_report_ok(b)) {
            return false;
        }
        break;
    }
    case WIRE_T_UPDATE_BEGIN: {
        wire_update_begin_t *b = &m->u.update_begin;
        b->image_size = reader_u32(r);
        reader_bytes(r, b->image_sha256, WIRE_SHA256_SIZE);
        b->version_major = reader_u8(r);
        b->version_minor = reader_u8(r);
        b->version_revision = reader_u16(r);
        b->version_build = reader_u32(r);
        b->security_counter = reader_u32(r);
        break;
    }
    case WIRE_T_UPDATE_CHUNK: {
        wire_update_chunk_t *c = &m->u.update_chunk;
        c->offset = reader_u32(r);
        c->length = reader_u16(r);
        if (!r->ok || !chunk_ok(c->offset, c->length) || r->n - r->pos != (size_t)c->length) {
            return false;
        }
        reader_bytes(r, c->data, c->length);
        break;
    }
    default: /* GET_STATUS, HELLO_REQUEST, UPDATE_END, UPDATE_INSTALL, UPDATE_ABORT */
        break;
    }
    return r->ok && r->pos == r->n;
}

static bool accepted(wire_accept_t accept, uint8_t type)
{
    if (!type_known(type)) {
        return false;
    }
    switch (accept) {
    case WIRE_ACCEPT_HOST_TO_DEVICE:
        return WIRE_TYPE_IS_HOST_TO_DEVICE(type);
    case WIRE_ACCEPT_DEVICE_TO_HOST:
        return !WIRE_TYPE_IS_HOST_TO_DEVICE(type);
    default:
        return true;
    }
}

/* Checks a complete decoded frame (docs/protocol.md section 4, checks 2 to 6). */
static wire_reason_t parse_frame(const wire_decoder_t *d, wire_event_t *ev)
{
    const uint8_t *buf = d->buf;
    size_t len = d->len;
    ev->frame = buf;
    ev->frame_len = d->len;
    if (len < WIRE_MIN_FRAME) {
        return WIRE_REASON_SHORT;
    }
    uint16_t want = (uint16_t)(buf[len - 2u] | ((uint16_t)buf[len - 1u] << 8));
    if (wire_crc16(0xFFFFu, buf, len - WIRE_CRC_SIZE) != want) {
        return WIRE_REASON_CRC;
    }
    ev->has_header = true;
    ev->version = buf[0];
    ev->type = buf[1];
    ev->seq = (uint32_t)buf[2] | ((uint32_t)buf[3] << 8) | ((uint32_t)buf[4] << 16) | ((uint32_t)buf[5] << 24);
    if (ev->version != WIRE_PROTOCOL_VERSION) {
        return WIRE_REASON_VERSION;
    }
    if (!accepted(d->accept, ev->type)) {
        return WIRE_REASON_TYPE;
    }
    reader_t r = {buf + WIRE_HEADER_SIZE, len - WIRE_MIN_FRAME, 0, true};
    ev->msg.type = ev->type;
    if (!read_payload(&r, &ev->msg)) {
        memset(&ev->msg, 0, sizeof ev->msg);
        return WIRE_REASON_PAYLOAD;
    }
    return WIRE_REASON_NONE;
}

static void finish_frame(wire_decoder_t *d, wire_event_t *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->raw_len = d->raw_len;
    wire_reason_t reason;
    if (d->state == ST_DISCARD) {
        reason = WIRE_REASON_OVERSIZE;
    } else if (d->left > 0u) {
        reason = WIRE_REASON_COBS;
    } else {
        reason = parse_frame(d, ev);
    }
    ev->reason = reason;
    ev->kind = reason == WIRE_REASON_NONE ? WIRE_EVENT_FRAME : WIRE_EVENT_REJECT;
    switch (reason) {
    case WIRE_REASON_NONE:
        d->counters.frames++;
        break;
    case WIRE_REASON_OVERSIZE:
        d->counters.oversize++;
        break;
    case WIRE_REASON_VERSION:
    case WIRE_REASON_TYPE:
        d->counters.unknown++;
        break;
    default:
        d->counters.corrupt++;
        break;
    }
    d->state = ST_IDLE;
    d->raw_len = 0;
    d->code = 0;
    d->left = 0;
    /* d->len and d->buf stay as they are: ev->frame points there until the next feed */
}

static bool append(wire_decoder_t *d, uint8_t b)
{
    if (d->len >= WIRE_MAX_FRAME) {
        d->state = ST_DISCARD;
        return false;
    }
    d->buf[d->len++] = b;
    return true;
}

void wire_decoder_init(wire_decoder_t *d, wire_accept_t accept)
{
    if (d == NULL) {
        return;
    }
    memset(d, 0, sizeof *d);
    d->accept = accept;
    d->state = ST_IDLE;
}

wire_event_kind_t wire_decoder_feed(wire_decoder_t *d, const uint8_t *data, size_t len, size_t *consumed,
                                    wire_event_t *ev)
{
    if (consumed != NULL) {
        *consumed = 0;
    }
    if (d == NULL || consumed == NULL || ev == NULL || data == NULL) {
        return WIRE_EVENT_NONE;
    }
    for (size_t i = 0; i < len; i++) {
        uint8_t b = data[i];
        d->counters.bytes++;
        if (b == 0u) {
            if (d->state == ST_IDLE) {
                continue; /* an empty frame: ignored */
            }
            finish_frame(d, ev);
            *consumed = i + 1u;
            return ev->kind;
        }
        if (d->raw_len != UINT32_MAX) {
            d->raw_len++;
        }
        switch (d->state) {
        case ST_IDLE: /* the first code byte of a frame */
            d->state = ST_FRAME;
            d->len = 0;
            d->code = b;
            d->left = (uint8_t)(b - 1u);
            break;
        case ST_FRAME:
            if (d->left == 0u) { /* a code byte: the block before it ended with a zero unless it was full */
                if (d->code != 0xFFu && !append(d, 0u)) {
                    break;
                }
                d->code = b;
                d->left = (uint8_t)(b - 1u);
            } else {
                d->left--;
                (void)append(d, b);
            }
            break;
        default: /* ST_DISCARD: wait for the delimiter */
            break;
        }
    }
    *consumed = len;
    return WIRE_EVENT_NONE;
}

uint32_t wire_decoder_pending(const wire_decoder_t *d)
{
    return d != NULL ? d->raw_len : 0u;
}

const char *wire_reason_name(wire_reason_t reason)
{
    switch (reason) {
    case WIRE_REASON_COBS:
        return "cobs";
    case WIRE_REASON_SHORT:
        return "short";
    case WIRE_REASON_CRC:
        return "crc";
    case WIRE_REASON_PAYLOAD:
        return "payload";
    case WIRE_REASON_OVERSIZE:
        return "oversize";
    case WIRE_REASON_VERSION:
        return "version";
    case WIRE_REASON_TYPE:
        return "type";
    default:
        return "none";
    }
}

const char *wire_reason_counter(wire_reason_t reason)
{
    switch (reason) {
    case WIRE_REASON_COBS:
    case WIRE_REASON_SHORT:
    case WIRE_REASON_CRC:
    case WIRE_REASON_PAYLOAD:
        return "corrupt";
    case WIRE_REASON_OVERSIZE:
        return "oversize";
    case WIRE_REASON_VERSION:
    case WIRE_REASON_TYPE:
        return "unknown";
    default:
        return "none";
    }
}
