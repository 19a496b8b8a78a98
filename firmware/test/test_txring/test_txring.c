/*
 * test_txring - the retransmit ring (firmware/lib/txring), on the host and in QEMU.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hbtest.h"
#include "port.h"
#include "txring.h"

#define CAP 4u

static txring_t g_r;
static txring_slot_t g_slots[CAP];

/* what a replay handed out */
typedef struct {
    uint32_t seqs[64];
    uint8_t frames[64][TXRING_SLOT_BYTES];
    size_t lens[64];
    unsigned n;
    unsigned stop_after; /* refuse the frame after this many (0: never) */
} sink_t;

static bool sink_send(void *ctx, uint32_t seq, const uint8_t *frame, size_t len)
{
    sink_t *s = ctx;
    if (s->stop_after != 0u && s->n == s->stop_after) {
        return false;
    }
    if (s->n < 64u) {
        s->seqs[s->n] = seq;
        memcpy(s->frames[s->n], frame, len);
        s->lens[s->n] = len;
    }
    s->n++;
    return true;
}

/* a frame whose bytes and length both depend on its seq */
static size_t frame_for(uint32_t seq, uint8_t *out)
{
    size_t len = 5u + seq % (TXRING_SLOT_BYTES - 5u);
    for (size_t i = 0; i < len; i++) {
        out[i] = (uint8_t)(seq * 31u + i * 7u + 1u);
    }
    out[len - 1u] = 0x00; /* a frame ends with its delimiter */
    return len;
}

static txring_rc_t push(uint32_t seq)
{
    uint8_t f[TXRING_SLOT_BYTES];
    size_t len = frame_for(seq, f);
    return txring_push(&g_r, seq, f, len);
}

static bool frame_is(const sink_t *s, unsigned i, uint32_t seq)
{
    uint8_t f[TXRING_SLOT_BYTES];
    size_t len = frame_for(seq, f);
    return s->seqs[i] == seq && s->lens[i] == len && memcmp(s->frames[i], f, len) == 0;
}

static void test_push_and_replay_byte_for_byte(hbtest_t *t)
{
    HBTEST_CHECK(t, txring_init(&g_r, g_slots, CAP));
    HBTEST_CHECK(t, txring_count(&g_r) == 0u && txring_oldest_seq(&g_r) == 0u && txring_newest_seq(&g_r) == 0u);
    /* seqs need not be contiguous: other message types take seqs too */
    HBTEST_CHECK(t, push(2) == TXRING_OK);
    HBTEST_CHECK(t, push(3) == TXRING_OK);
    HBTEST_CHECK(t, push(7) == TXRING_OK);
    HBTEST_CHECK(t, txring_count(&g_r) == 3u && txring_oldest_seq(&g_r) == 2u && txring_newest_seq(&g_r) == 7u);
    sink_t s;
    memset(&s, 0, sizeof s);
    HBTEST_CHECK(t, txring_replay(&g_r, 0, sink_send, &s) == 3u);
    HBTEST_CHECK(t, s.n == 3u && frame_is(&s, 0, 2) && frame_is(&s, 1, 3) && frame_is(&s, 2, 7));
    memset(&s, 0, sizeof s);
    HBTEST_CHECK(t, txring_replay(&g_r, 3, sink_send, &s) == 1u);
    HBTEST_CHECK(t, s.n == 1u && frame_is(&s, 0, 7));
    memset(&s, 0, sizeof s);
    HBTEST_CHECK(t, txring_replay(&g_r, 7, sink_send, &s) == 0u && s.n == 0u);
    HBTEST_CHECK(t, txring_lost(&g_r) == 0u);
    HBTEST_CHECK(t, !txring_gap(&g_r, 0, NULL, NULL));
}

static void test_release_frees_acknowledged_entries(hbtest_t *t)
{
    HBTEST_CHECK(t, txring_init(&g_r, g_slots, CAP));
    push(1);
    push(2);
    push(4);
    HBTEST_CHECK(t, txring_release(&g_r, 0) == 0u);
    HBTEST_CHECK(t, txring_release(&g_r, 3) == 2u); /* 1 and 2 */
    HBTEST_CHECK(t, txring_count(&g_r) == 1u && txring_oldest_seq(&g_r) == 4u);
    HBTEST_CHECK(t, txring_release(&g_r, 3) == 0u);    /* again: nothing more */
    HBTEST_CHECK(t, txring_release(&g_r, 1000) == 1u); /* beyond the last seq: everything */
    HBTEST_CHECK(t, txring_count(&g_r) == 0u && txring_oldest_seq(&g_r) == 0u);
    HBTEST_CHECK(t, txring_newest_seq(&g_r) == 4u);
    /* acknowledged in time: a full cycle of pushes loses nothing */
    for (uint32_t seq = 5; seq < 40; seq++) {
        HBTEST_CHECK(t, push(seq) == TXRING_OK);
        txring_release(&g_r, seq - 2u);
    }
    HBTEST_CHECK(t, txring_lost(&g_r) == 0u && txring_count(&g_r) == 2u);
}

static void test_overwrite_counts_lost_and_reports_the_gap(hbtest_t *t)
{
    HBTEST_CHECK(t, txring_init(&g_r, g_slots, CAP));
    for (uint32_t seq = 10; seq < 14; seq++) {
        HBTEST_CHECK(t, push(seq) == TXRING_OK);
    }
    HBTEST_CHECK(t, push(15) == TXRING_OVERWROTE); /* 10 is gone */
    HBTEST_CHECK(t, push(16) == TXRING_OVERWROTE); /* 11 is gone */
    HBTEST_CHECK(t, txring_lost(&g_r) == 2u && txring_oldest_seq(&g_r) == 12u && txring_count(&g_r) == CAP);

    uint32_t first = 0, last = 0;
    HBTEST_CHECK(t, txring_gap(&g_r, 0, &first, &last) && first == 1u && last == 11u);
    HBTEST_CHECK(t, txring_gap(&g_r, 10, &first, &last) && first == 11u && last == 11u);
    HBTEST_CHECK(t, !txring_gap(&g_r, 11, &first, &last)); /* the host holds everything lost */
    HBTEST_CHECK(t, !txring_gap(&g_r, 16, &first, &last));

    sink_t s;
    memset(&s, 0, sizeof s);
    HBTEST_CHECK(t, txring_replay(&g_r, 9, sink_send, &s) == 4u);
    HBTEST_CHECK(t, frame_is(&s, 0, 12) && frame_is(&s, 1, 13) && frame_is(&s, 2, 15) && frame_is(&s, 3, 16));
}

static void test_replay_stops_when_the_sender_refuses(hbtest_t *t)
{
    HBTEST_CHECK(t, txring_init(&g_r, g_slots, CAP));
    push(1);
    push(2);
    push(3);
    sink_t s;
    memset(&s, 0, sizeof s);
    s.stop_after = 2;
    HBTEST_CHECK(t, txring_replay(&g_r, 0, sink_send, &s) == 2u);
    HBTEST_CHECK(t, txring_count(&g_r) == 3u); /* a replay never removes anything */
}

static void test_push_refuses_bad_frames_and_keeps_the_ring(hbtest_t *t)
{
    HBTEST_CHECK(t, txring_init(&g_r, g_slots, CAP));
    uint8_t big[TXRING_SLOT_BYTES + 1u];
    memset(big, 1, sizeof big);
    HBTEST_CHECK(t, push(5) == TXRING_OK);
    HBTEST_CHECK(t, txring_push(&g_r, 6, big, sizeof big) == TXRING_E_TOO_LONG);
    HBTEST_CHECK(t, txring_push(&g_r, 6, big, TXRING_SLOT_BYTES) == TXRING_OK); /* exactly one slot */
    HBTEST_CHECK(t, txring_push(&g_r, 6, big, 3) == TXRING_E_ORDER);            /* not above the newest */
    HBTEST_CHECK(t, txring_push(&g_r, 0, big, 3) == TXRING_E_ORDER);
    HBTEST_CHECK(t, txring_push(&g_r, 7, big, 0) == TXRING_E_ARGUMENT);
    HBTEST_CHECK(t, txring_push(&g_r, 7, NULL, 3) == TXRING_E_ARGUMENT);
    HBTEST_CHECK(t, txring_push(NULL, 7, big, 3) == TXRING_E_ARGUMENT);
    HBTEST_CHECK(t, txring_count(&g_r) == 2u && txring_newest_seq(&g_r) == 6u);
    HBTEST_CHECK(t, !txring_init(&g_r, g_slots, 0));
    HBTEST_CHECK(t, !txring_init(&g_r, NULL, CAP));
    HBTEST_CHECK(t, txring_push(&g_r, 8, big, 3) == TXRING_E_ARGUMENT); /* no slots after a failed init */
    HBTEST_CHECK(t, txring_count(NULL) == 0u && txring_oldest_seq(NULL) == 0u && txring_lost(NULL) == 0u);
}

/* Against a plain list: append, drop the oldest beyond capacity (lost), drop acknowledged ones from the
 * front; pseudo-random seq steps, acknowledgements and replays over many wrap-arounds of 7 slots. */
#define REF_MAX 4096u
static uint32_t g_ref[REF_MAX];
static txring_slot_t g_slots7[7];

static uint32_t lcg(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 9;
}

static void test_matches_a_plain_list_over_many_wraps(hbtest_t *t)
{
    HBTEST_CHECK(t, txring_init(&g_r, g_slots7, 7));
    unsigned ref_lo = 0, ref_hi = 0; /* g_ref[ref_lo .. ref_hi) are retained */
    uint32_t lost = 0, lost_high = 0, seq = 0, acked = 0, bad = 0;
    uint32_t rng = 99u;
    for (unsigned step = 0; step < 3000u && ref_hi < REF_MAX; step++) {
        seq += 1u + lcg(&rng) % 3u;
        txring_rc_t rc = push(seq);
        g_ref[ref_hi++] = seq;
        bool overwrote = false;
        if (ref_hi - ref_lo > 7u) {
            lost++;
            lost_high = g_ref[ref_lo++];
            overwrote = true;
        }
        bad += rc != (overwrote ? TXRING_OVERWROTE : TXRING_OK);
        if (lcg(&rng) % 4u == 0u) {
            acked = seq - lcg(&rng) % 8u;
            txring_release(&g_r, acked);
            while (ref_lo < ref_hi && g_ref[ref_lo] <= acked) {
                ref_lo++;
            }
        }
        bad += txring_count(&g_r) != ref_hi - ref_lo;
        bad += txring_oldest_seq(&g_r) != (ref_lo < ref_hi ? g_ref[ref_lo] : 0u);
        bad += txring_lost(&g_r) != lost;
        if (step % 16u == 0u) {
            uint32_t after = seq > 10u ? seq - lcg(&rng) % 20u : 0u;
            sink_t s;
            memset(&s, 0, sizeof s);
            txring_replay(&g_r, after, sink_send, &s);
            unsigned k = 0;
            for (unsigned i = ref_lo; i < ref_hi; i++) {
                if (g_ref[i] > after) {
                    bad += k >= s.n || !frame_is(&s, k, g_ref[i]);
                    k++;
                }
            }
            bad += k != s.n;
            uint32_t first = 0, last = 0;
            bool gap = txring_gap(&g_r, after, &first, &last);
            bool want_gap = lost_high > after;
            bad += gap != want_gap;
            bad += gap && (first != after + 1u || last != lost_high);
        }
    }
    HBTEST_CHECK(t, bad == 0u);
    HBTEST_CHECK(t, lost > 50u); /* the run did overwrite */
}

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    hbtest_run(&t, "push_and_replay_byte_for_byte", test_push_and_replay_byte_for_byte);
    hbtest_run(&t, "release_frees_acknowledged_entries", test_release_frees_acknowledged_entries);
    hbtest_run(&t, "overwrite_counts_lost_and_reports_the_gap", test_overwrite_counts_lost_and_reports_the_gap);
    hbtest_run(&t, "replay_stops_when_the_sender_refuses", test_replay_stops_when_the_sender_refuses);
    hbtest_run(&t, "push_refuses_bad_frames_and_keeps_the_ring", test_push_refuses_bad_frames_and_keeps_the_ring);
    hbtest_run(&t, "matches_a_plain_list_over_many_wraps", test_matches_a_plain_list_over_many_wraps);
    port_exit(hbtest_end(&t));
}
