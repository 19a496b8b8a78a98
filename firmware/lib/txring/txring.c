/* txring.c - see txring.h. */
#include "txring.h"

#include <string.h>

bool txring_init(txring_t *r, txring_slot_t *slots, uint16_t capacity)
{
    if (r == NULL) {
        return false;
    }
    memset(r, 0, sizeof *r);
    if (slots == NULL || capacity == 0u) {
        return false;
    }
    r->slots = slots;
    r->capacity = capacity;
    return true;
}

static uint16_t slot_index(const txring_t *r, uint32_t i)
{
    uint32_t idx = (uint32_t)r->head + i;
    return (uint16_t)(idx >= r->capacity ? idx - r->capacity : idx);
}

txring_rc_t txring_push(txring_t *r, uint32_t seq, const uint8_t *frame, size_t len)
{
    if (r == NULL || r->slots == NULL || frame == NULL || len == 0u) {
        return TXRING_E_ARGUMENT;
    }
    if (len > TXRING_SLOT_BYTES) {
        return TXRING_E_TOO_LONG;
    }
    if (seq == 0u || seq <= r->newest) {
        return TXRING_E_ORDER;
    }
    txring_rc_t rc = TXRING_OK;
    if (r->count == r->capacity) {
        /* every entry still here is unacknowledged (acknowledged ones were released) */
        txring_slot_t *old = &r->slots[r->head];
        r->lost++;
        r->lost_high = old->seq; /* seqs only grow: the newest one lost so far */
        r->head = slot_index(r, 1u);
        r->count--;
        rc = TXRING_OVERWROTE;
    }
    txring_slot_t *slot = &r->slots[slot_index(r, r->count)];
    slot->seq = seq;
    slot->len = (uint8_t)len;
    memcpy(slot->bytes, frame, len);
    r->count++;
    r->newest = seq;
    return rc;
}

uint16_t txring_release(txring_t *r, uint32_t device_seq)
{
    if (r == NULL || r->slots == NULL) {
        return 0;
    }
    uint16_t freed = 0;
    while (r->count > 0u && r->slots[r->head].seq <= device_seq) {
        r->head = slot_index(r, 1u);
        r->count--;
        freed++;
    }
    return freed;
}

bool txring_gap(const txring_t *r, uint32_t after_seq, uint32_t *first, uint32_t *last)
{
    if (r == NULL || r->lost_high == 0u || after_seq >= r->lost_high) {
        return false;
    }
    if (first != NULL) {
        *first = after_seq + 1u;
    }
    if (last != NULL) {
        *last = r->lost_high;
    }
    return true;
}

uint16_t txring_replay(const txring_t *r, uint32_t after_seq, txring_send_fn send, void *ctx)
{
    if (r == NULL || r->slots == NULL || send == NULL) {
        return 0;
    }
    uint16_t sent = 0;
    for (uint32_t i = 0; i < r->count; i++) {
        const txring_slot_t *slot = &r->slots[slot_index(r, i)];
        if (slot->seq <= after_seq) {
            continue;
        }
        if (!send(ctx, slot->seq, slot->bytes, slot->len)) {
            break;
        }
        sent++;
    }
    return sent;
}

uint16_t txring_count(const txring_t *r)
{
    return r == NULL ? 0u : r->count;
}

uint32_t txring_oldest_seq(const txring_t *r)
{
    return (r == NULL || r->count == 0u) ? 0u : r->slots[r->head].seq;
}

uint32_t txring_newest_seq(const txring_t *r)
{
    return r == NULL ? 0u : r->newest;
}

uint32_t txring_lost(const txring_t *r)
{
    return r == NULL ? 0u : r->lost;
}
