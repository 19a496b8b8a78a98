/*
 * txring.h - the retransmit ring of the device's recent BEAT and ALERT frames (docs/protocol.md, 3.2-3.3).
 *
 * The ring keeps the encoded frames (COBS and delimiter included, byte for byte as first sent) in seq
 * order, in slots the caller provides at init. An entry leaves the ring when
 *
 *   - the host acknowledges it: txring_release(device_seq) frees every entry with seq <= device_seq;
 *   - the ring is full and a new frame needs its slot: the oldest entry is overwritten, `lost` grows by one
 *     and `lost_high` remembers the highest seq lost this way. Pushing never blocks and never fails for
 *     lack of room: classifying beats in real time comes first.
 *
 * On RESEND(after_seq) the device calls txring_gap() (GAP(after_seq + 1, lost_high) when something after
 * after_seq was overwritten) and then txring_replay(), which hands every retained frame with
 * seq > after_seq, oldest first, to the caller's send function.
 *
 * No statics, no malloc; the slots are the caller's.
 */
#ifndef TXRING_H
#define TXRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes per slot: the largest frame the ring keeps. A BEAT is at most 25 bytes on the wire (COBS + 0x00),
 * an ALERT 22 (docs/protocol.md, 2.3). Override with -DTXRING_SLOT_BYTES=n. */
#ifndef TXRING_SLOT_BYTES
#define TXRING_SLOT_BYTES 28u
#endif

typedef struct {
    uint32_t seq;
    uint8_t len;
    uint8_t bytes[TXRING_SLOT_BYTES];
} txring_slot_t;

_Static_assert(TXRING_SLOT_BYTES >= 1u && TXRING_SLOT_BYTES <= 255u, "a slot's length is kept in a u8");

typedef struct {
    txring_slot_t *slots;
    uint16_t capacity;
    uint16_t head;      /* slot of the oldest entry */
    uint16_t count;     /* entries held */
    uint32_t newest;    /* seq of the newest frame ever pushed (0: none) */
    uint32_t lost;      /* entries overwritten before they were acknowledged */
    uint32_t lost_high; /* highest seq overwritten that way (0: none) */
} txring_t;

typedef enum {
    TXRING_OK = 0,
    TXRING_OVERWROTE = 1,  /* stored; the oldest unacknowledged entry was overwritten (lost + 1) */
    TXRING_E_ARGUMENT = 2, /* NULL, empty frame, or a ring without slots: nothing stored */
    TXRING_E_TOO_LONG = 3, /* the frame does not fit a slot: nothing stored */
    TXRING_E_ORDER = 4,    /* seq 0, or not above the newest seq pushed: nothing stored */
} txring_rc_t;

/* Called by txring_replay() for each frame; return false to stop the replay (e.g. the link is gone). */
typedef bool (*txring_send_fn)(void *ctx, uint32_t seq, const uint8_t *frame, size_t len);

/* Uses `capacity` caller-owned slots (at least 1); the ring starts empty. false for bad arguments. */
bool txring_init(txring_t *r, txring_slot_t *slots, uint16_t capacity);

/* Keeps a copy of the encoded frame `frame` (`len` bytes) sent with `seq`. */
txring_rc_t txring_push(txring_t *r, uint32_t seq, const uint8_t *frame, size_t len);

/* The host holds every frame up to `device_seq`: frees those entries. Returns how many were freed. */
uint16_t txring_release(txring_t *r, uint32_t device_seq);

/* true (and the range) when frames with seq in [after_seq + 1, lost_high] were overwritten unacknowledged
 * and so can never be resent: the GAP to send before the replay. */
bool txring_gap(const txring_t *r, uint32_t after_seq, uint32_t *first, uint32_t *last);

/* Hands every retained frame with seq > after_seq, oldest first, to `send`. Returns the number sent. */
uint16_t txring_replay(const txring_t *r, uint32_t after_seq, txring_send_fn send, void *ctx);

uint16_t txring_count(const txring_t *r);
uint32_t txring_oldest_seq(const txring_t *r); /* 0 when empty */
uint32_t txring_newest_seq(const txring_t *r); /* newest seq ever pushed, 0 when none */
uint32_t txring_lost(const txring_t *r);

#ifdef __cplusplus
}
#endif

#endif /* TXRING_H */
