/*
 * wire.h - the frame codec of the device <-> bridge wire protocol (docs/protocol.md).
 *
 * A frame on the wire is COBS( version | type | seq u32 | payload | crc16 ) 0x00, little-endian,
 * CRC-16/CCITT-FALSE. This module encodes messages into caller buffers and decodes a byte stream with a
 * state machine whose state the caller owns (no malloc, no statics, no UART calls). Its Python twin is
 * edge_bridge/wire.py; both are tested against tests/contract/wire_vectors.json.
 *
 *   uint8_t out[WIRE_MAX_ENCODED]; size_t n;
 *   if (wire_encode(&msg, seq, out, sizeof out, &n) == WIRE_OK) port_uart_write(out, n);
 *
 *   static wire_decoder_t dec;  static wire_event_t ev;
 *   wire_decoder_init(&dec, WIRE_ACCEPT_HOST_TO_DEVICE);
 *   while (len > 0) {
 *       size_t used;
 *       wire_event_kind_t kind = wire_decoder_feed(&dec, data, len, &used, &ev);
 *       data += used; len -= used;
 *       if (kind == WIRE_EVENT_FRAME) handle(&ev.msg, ev.seq);
 *       else if (kind == WIRE_EVENT_REJECT && ev.has_header) reply_error(&ev);
 *   }
 */
#ifndef WIRE_H
#define WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WIRE_PROTOCOL_VERSION 1u
#define WIRE_MAX_FRAME 512u /* largest decoded frame: header, payload and CRC */
#define WIRE_HEADER_SIZE 6u /* version, type, seq */
#define WIRE_CRC_SIZE 2u
#define WIRE_MIN_FRAME (WIRE_HEADER_SIZE + WIRE_CRC_SIZE)
#define WIRE_MAX_PAYLOAD (WIRE_MAX_FRAME - WIRE_MIN_FRAME)
/* COBS adds at most one byte per 254 (and one for a frame shorter than that), plus the delimiter. */
#define WIRE_MAX_ENCODED (WIRE_MAX_FRAME + (WIRE_MAX_FRAME + 253u) / 254u + 1u)
#define WIRE_STR_MAX 64u      /* longest string field (printable ASCII) */
#define WIRE_SAMPLES_MAX 240u /* int16 samples per SAMPLES frame */
#define WIRE_NUM_CLASSES 5u   /* N, S, V, F, Q */
#define WIRE_SHA256_SIZE 32u
#define WIRE_CHUNK_MAX 256u  /* image bytes per UPDATE_CHUNK */
#define WIRE_CHUNK_ALIGN 4u  /* UPDATE_CHUNK offsets are multiples of this (the flash write unit) */
#define WIRE_N_SLOTS 2u      /* image slots of a device (docs/ota.md) */
#define WIRE_SLOT_NONE 0xFFu /* BOOT_REPORT.running_slot of a device in recovery: no image runs */

_Static_assert(WIRE_MIN_FRAME + 6u + 2u * WIRE_SAMPLES_MAX <= WIRE_MAX_FRAME,
               "a full SAMPLES frame must fit in WIRE_MAX_FRAME");
_Static_assert(WIRE_MIN_FRAME + 6u + WIRE_CHUNK_MAX <= WIRE_MAX_FRAME,
               "a full UPDATE_CHUNK must fit in WIRE_MAX_FRAME");
_Static_assert(WIRE_MAX_FRAME <= 0xFFFFu, "decoded lengths are kept in 16 bits");

/* Message types: bit 7 set = host -> device. */
typedef enum {
    WIRE_T_HELLO = 0x01,
    WIRE_T_BEAT = 0x02,
    WIRE_T_ALERT = 0x03,
    WIRE_T_STATUS = 0x04,
    WIRE_T_ACK = 0x05,
    WIRE_T_ERROR = 0x06,
    WIRE_T_GAP = 0x07,
    WIRE_T_UPDATE_STATE = 0x08,
    WIRE_T_BOOT_REPORT = 0x09,
    WIRE_T_SAMPLES = 0x81,
    WIRE_T_CONFIG = 0x82,
    WIRE_T_HOST_ACK = 0x83,
    WIRE_T_RESEND = 0x84,
    WIRE_T_GET_STATUS = 0x85,
    WIRE_T_HELLO_REQUEST = 0x86,
    WIRE_T_UPDATE_BEGIN = 0x87,
    WIRE_T_UPDATE_CHUNK = 0x88,
    WIRE_T_UPDATE_END = 0x89,
    WIRE_T_UPDATE_INSTALL = 0x8A,
    WIRE_T_UPDATE_ABORT = 0x8B,
} wire_type_t;

#define WIRE_TYPE_IS_HOST_TO_DEVICE(t) (((t) & 0x80u) != 0u)

/* ACK status */
enum { WIRE_ACK_OK = 0, WIRE_ACK_INVALID = 1, WIRE_ACK_UNSUPPORTED = 2 };

/* ERROR codes */
enum {
    WIRE_ERR_BAD_VERSION = 0x0001,
    WIRE_ERR_UNKNOWN_TYPE = 0x0002,
    WIRE_ERR_BAD_PAYLOAD = 0x0003,
    WIRE_ERR_SAMPLE_INDEX = 0x0010,
    WIRE_ERR_SAMPLE_RANGE = 0x0011,
    WIRE_ERR_MODEL_INVALID = 0x0030,
    WIRE_ERR_MODEL_UNSUPPORTED_OP = 0x0031,
    WIRE_ERR_MODEL_SHA256 = 0x0032,
    WIRE_ERR_MODEL_ARENA = 0x0033,
    WIRE_ERR_INTERNAL = 0x00FF,
};

/* BEAT flags */
enum { WIRE_BEAT_ALERTED = 0x01, WIRE_BEAT_LEARNING = 0x02, WIRE_BEAT_CLIPPED = 0x04 };

/* ALERT rules */
enum { WIRE_RULE_THRESHOLD = 1, WIRE_RULE_RUN = 2 };

/* CONFIG.enabled: bits 0..4 classes N, S, V, F, Q; then the rules; bit 7 reserved */
enum { WIRE_CFG_THRESHOLD_RULE = 0x20, WIRE_CFG_RUN_RULE = 0x40, WIRE_CFG_RESERVED = 0x80 };

/* UPDATE_STATE.state: where the device's image transfer stands */
enum {
    WIRE_XFER_IDLE = 0,       /* no transfer */
    WIRE_XFER_RECEIVING = 1,  /* a transfer in progress: next_offset bytes held */
    WIRE_XFER_VERIFIED = 2,   /* the whole image held and verified: UPDATE_INSTALL installs it */
    WIRE_XFER_INSTALLING = 3, /* installing: the device resets into the bootloader now */
    WIRE_XFER_REFUSED = 4,    /* the image was refused (the result says why); nothing changed */
};

/* UPDATE_STATE.result and BOOT_REPORT.reason (docs/protocol.md, "Update results") */
enum {
    WIRE_UPD_OK = 0x00,
    WIRE_UPD_BAD_SIZE = 0x01,          /* UPDATE_BEGIN: image size 0 or larger than a slot */
    WIRE_UPD_BAD_OFFSET = 0x02,        /* UPDATE_CHUNK: offset + length beyond the image size */
    WIRE_UPD_BAD_LENGTH = 0x03,        /* UPDATE_CHUNK: length not a multiple of 4 and not the image's end */
    WIRE_UPD_OUT_OF_ORDER = 0x04,      /* UPDATE_CHUNK: offset beyond next_offset */
    WIRE_UPD_NO_TRANSFER = 0x05,       /* UPDATE_CHUNK or UPDATE_END without a transfer in progress */
    WIRE_UPD_INCOMPLETE = 0x06,        /* UPDATE_END before every byte was received */
    WIRE_UPD_NOT_VERIFIED = 0x07,      /* UPDATE_INSTALL before UPDATE_END verified the image */
    WIRE_UPD_BUSY = 0x08,              /* no update now: the running image is on trial, or installing */
    WIRE_UPD_FLASH = 0x09,             /* erasing, writing or reading back the slot failed */
    WIRE_UPD_TRANSFER_HASH = 0x10,     /* the bytes received lack the sha256 UPDATE_BEGIN announced */
    WIRE_UPD_BAD_IMAGE = 0x11,         /* not a well-formed MCUboot image */
    WIRE_UPD_IMAGE_HASH = 0x12,        /* the SHA256 TLV does not match header, payload and protected TLVs */
    WIRE_UPD_UNKNOWN_KEY = 0x13,       /* signed with another key (KEYHASH) */
    WIRE_UPD_BAD_SIGNATURE = 0x14,     /* the signature does not verify */
    WIRE_UPD_WRONG_TARGET = 0x15,      /* built for another target */
    WIRE_UPD_SECURITY_COUNTER = 0x16,  /* security counter below the device's */
    WIRE_UPD_MANIFEST_MISMATCH = 0x17, /* signed version or counter is not what UPDATE_BEGIN announced */
    WIRE_UPD_SELF_TEST_FAILED = 0x20,  /* BOOT_REPORT: the new image's self-test failed; reverted */
    WIRE_UPD_NOT_CONFIRMED = 0x21,     /* BOOT_REPORT: the new image reset before confirming; reverted */
};

/* BOOT_REPORT.last_outcome */
enum {
    WIRE_OUTCOME_NONE = 0,      /* no update since the device was flashed */
    WIRE_OUTCOME_INSTALLED = 1, /* the new image runs (on trial until it confirms itself) */
    WIRE_OUTCOME_REFUSED = 2,   /* the bootloader would not run the pending image: the old one runs */
    WIRE_OUTCOME_REVERTED = 3,  /* the new image did not confirm itself: the old one runs again */
};

/* Strings are NUL-terminated here (printable ASCII holds no NUL); at most WIRE_STR_MAX characters. */
typedef struct {
    char device_id[WIRE_STR_MAX + 1];
    char firmware_version[WIRE_STR_MAX + 1];
    char model_version[WIRE_STR_MAX + 1];
    uint8_t model_sha256[WIRE_SHA256_SIZE];
    uint8_t protocol_version;
    uint32_t boot_id;
    uint16_t sample_rate_hz;
} wire_hello_t;

typedef struct {
    uint32_t r_sample;
    uint8_t beat_class;
    int8_t scores[WIRE_NUM_CLASSES];
    uint32_t cost;
    uint8_t flags;
} wire_beat_t;

typedef struct {
    uint32_t beat_seq;
    uint32_t r_sample;
    uint8_t beat_class;
    int8_t score;
    uint8_t rule;
    uint8_t threshold;
} wire_alert_t;

typedef struct {
    uint32_t uptime_ms;
    uint32_t samples;
    uint32_t beats;
    uint32_t alerts;
    uint32_t corrupt_frames;
    uint32_t oversize_frames;
    uint32_t unknown_frames;
    uint32_t overruns;
    uint32_t lost;
    uint32_t last_seq;
    uint32_t ring_oldest_seq;
} wire_status_t;

typedef struct {
    uint32_t host_seq;
    uint8_t status;
} wire_ack_t;

typedef struct {
    uint16_t code;
    uint32_t host_seq;
    char text[WIRE_STR_MAX + 1];
} wire_error_t;

typedef struct {
    uint32_t first;
    uint32_t last;
} wire_gap_t;

typedef struct {
    uint32_t first_sample;
    uint16_t count;
    int16_t samples[WIRE_SAMPLES_MAX];
} wire_samples_t;

typedef struct {
    uint8_t thresholds[WIRE_NUM_CLASSES];
    uint8_t k;
    uint8_t window;
    uint8_t enabled;
} wire_config_t;

typedef struct {
    uint32_t device_seq;
} wire_host_ack_t;

typedef struct {
    uint32_t after_seq;
} wire_resend_t;

typedef struct {
    uint32_t host_seq;    /* the seq of the host message it answers */
    uint8_t state;        /* WIRE_XFER_* */
    uint8_t result;       /* WIRE_UPD_* */
    uint32_t next_offset; /* the image offset the device needs next */
} wire_update_state_t;

typedef struct {
    uint8_t running_slot;  /* 0 .. WIRE_N_SLOTS - 1, or WIRE_SLOT_NONE */
    uint8_t version_major; /* the running image's version, MCUboot's major.minor.revision+build */
    uint8_t version_minor;
    uint16_t version_revision;
    uint32_t version_build;
    uint8_t confirmed;    /* 1 confirmed, 0 on trial */
    uint8_t last_outcome; /* WIRE_OUTCOME_* */
    uint8_t reason;       /* WIRE_UPD_* */
    uint32_t security_counter;
} wire_boot_report_t;

typedef struct {
    uint32_t image_size;
    uint8_t image_sha256[WIRE_SHA256_SIZE]; /* of the whole image file as sent */
    uint8_t version_major;                  /* the image's version, MCUboot's major.minor.revision+build */
    uint8_t version_minor;
    uint16_t version_revision;
    uint32_t version_build;
    uint32_t security_counter;
} wire_update_begin_t;

typedef struct {
    uint32_t offset; /* a multiple of WIRE_CHUNK_ALIGN */
    uint16_t length; /* 1 .. WIRE_CHUNK_MAX */
    uint8_t data[WIRE_CHUNK_MAX];
} wire_update_chunk_t;

/* One message: `type` says which member of `u` holds it (GET_STATUS, HELLO_REQUEST, UPDATE_END, UPDATE_INSTALL
 * and UPDATE_ABORT have none). */
typedef struct {
    uint8_t type; /* wire_type_t */
    union {
        wire_hello_t hello;
        wire_beat_t beat;
        wire_alert_t alert;
        wire_status_t status;
        wire_ack_t ack;
        wire_error_t error;
        wire_gap_t gap;
        wire_update_state_t update_state;
        wire_boot_report_t boot_report;
        wire_samples_t samples;
        wire_config_t config;
        wire_host_ack_t host_ack;
        wire_resend_t resend;
        wire_update_begin_t update_begin;
        wire_update_chunk_t update_chunk;
    } u;
} wire_msg_t;

typedef enum {
    WIRE_OK = 0,
    WIRE_E_INVALID = 1, /* a field out of range, an unknown type, a NULL pointer */
    WIRE_E_SPACE = 2,   /* the output buffer is too small */
} wire_rc_t;

/* Which types a decoder hands out; the others are rejected with reason TYPE. */
typedef enum {
    WIRE_ACCEPT_ALL = 0,
    WIRE_ACCEPT_HOST_TO_DEVICE = 1, /* the device's decoder */
    WIRE_ACCEPT_DEVICE_TO_HOST = 2, /* the bridge's decoder */
} wire_accept_t;

/* Why a frame was dropped, and so which counter it went to. */
typedef enum {
    WIRE_REASON_NONE = 0,
    WIRE_REASON_COBS = 1,     /* corrupt: the frame ended inside a COBS block */
    WIRE_REASON_SHORT = 2,    /* corrupt: fewer than WIRE_MIN_FRAME decoded bytes */
    WIRE_REASON_CRC = 3,      /* corrupt */
    WIRE_REASON_PAYLOAD = 4,  /* corrupt: the payload does not match the type's layout */
    WIRE_REASON_OVERSIZE = 5, /* oversize: more than WIRE_MAX_FRAME decoded bytes */
    WIRE_REASON_VERSION = 6,  /* unknown: another protocol version */
    WIRE_REASON_TYPE = 7,     /* unknown: an undefined type, or one of the other direction */
} wire_reason_t;

typedef struct {
    uint32_t frames;   /* intact frames */
    uint32_t corrupt;  /* reasons COBS, SHORT, CRC, PAYLOAD */
    uint32_t oversize; /* reason OVERSIZE */
    uint32_t unknown;  /* reasons VERSION, TYPE */
    uint32_t bytes;    /* every byte fed (wraps after 4 GiB) */
} wire_counters_t;

typedef enum {
    WIRE_EVENT_NONE = 0,   /* every byte was consumed, no frame ended */
    WIRE_EVENT_FRAME = 1,  /* an intact frame: ev->msg, ev->seq */
    WIRE_EVENT_REJECT = 2, /* a dropped frame: ev->reason (and the header when ev->has_header) */
} wire_event_kind_t;

typedef struct {
    wire_event_kind_t kind;
    wire_reason_t reason; /* WIRE_REASON_NONE for a frame */
    bool has_header;      /* version, type and seq are known (CRC good) */
    uint8_t version;
    uint8_t type;
    uint32_t seq;
    uint32_t raw_len;     /* encoded bytes of this frame, without its delimiter */
    const uint8_t *frame; /* the decoded bytes (header..CRC), valid until the next feed; NULL if none */
    uint16_t frame_len;
    wire_msg_t msg; /* WIRE_EVENT_FRAME only */
} wire_event_t;

/* Decoder state, owned by the caller; initialise with wire_decoder_init(). */
typedef struct {
    wire_accept_t accept;
    uint8_t state; /* idle, frame, discard */
    uint8_t code;  /* the current COBS block's code byte */
    uint8_t left;  /* data bytes still to come in that block */
    uint16_t len;  /* decoded bytes in buf */
    uint32_t raw_len;
    wire_counters_t counters;
    uint8_t buf[WIRE_MAX_FRAME];
} wire_decoder_t;

/* CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no xorout) of `len` bytes, continuing `crc`
 * (pass 0xFFFF to start). */
uint16_t wire_crc16(uint16_t crc, const uint8_t *data, size_t len);

/* COBS-encodes `len` bytes into `out` (no delimiter); returns the encoded length, or 0 when it would not
 * fit in `cap` bytes. At most len + (len + 253) / 254 bytes (len >= 1). */
size_t wire_cobs_encode(const uint8_t *data, size_t len, uint8_t *out, size_t cap);

/* Encodes `msg` with `seq` into `out` as a complete frame (COBS + 0x00). On WIRE_OK *written is its length
 * (at most WIRE_MAX_ENCODED); otherwise nothing useful is in `out` and *written is 0. */
wire_rc_t wire_encode(const wire_msg_t *msg, uint32_t seq, uint8_t *out, size_t cap, size_t *written);

/* The decoded frame (header, payload, CRC; no COBS) of `msg` with `seq` into `out`. */
wire_rc_t wire_frame_bytes(const wire_msg_t *msg, uint32_t seq, uint8_t *out, size_t cap, size_t *written);

void wire_decoder_init(wire_decoder_t *d, wire_accept_t accept);

/* Feeds up to `len` bytes. Stops right after the first delimiter that ends a (non-empty) frame and reports
 * it in *ev; *consumed says how many bytes were used (call again with the rest). WIRE_EVENT_NONE: all
 * `len` bytes consumed and no frame ended. Never fails: every input is a frame or a counted reject. */
wire_event_kind_t wire_decoder_feed(wire_decoder_t *d, const uint8_t *data, size_t len, size_t *consumed,
                                    wire_event_t *ev);

/* Encoded bytes of the frame in progress (not yet ended by a 0x00). */
uint32_t wire_decoder_pending(const wire_decoder_t *d);

/* The counter a reject reason goes to: "corrupt", "oversize", "unknown" (or "none"). */
const char *wire_reason_counter(wire_reason_t reason);
/* The reason's name as in the vector table: "cobs", "short", "crc", "payload", "oversize", "version",
 * "type" (or "none"). */
const char *wire_reason_name(wire_reason_t reason);

/* True when `result` is one of the WIRE_UPD_* codes (UPDATE_STATE.result, BOOT_REPORT.reason). */
bool wire_update_result_known(uint8_t result);

/* The ACK status a device gives a CONFIG: WIRE_ACK_OK or WIRE_ACK_INVALID (docs/protocol.md). */
uint8_t wire_config_status(const wire_config_t *cfg);

#ifdef __cplusplus
}
#endif

#endif /* WIRE_H */
