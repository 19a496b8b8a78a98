/*
 * app_internal.h - what the files of the device application share and nobody else may use (app.h is the
 * public interface). One job per file:
 *
 *   app.c              app_init() (the wiring) and the signal path: per sample, ecg_dsp -> beat_window ->
 *                      micro_runtime -> alerts -> BEAT [+ ALERT]; the CLIPPED flag's bookkeeping
 *   app_rx.c           bytes received: the wire decoder, the sample FIFO and its back-pressure, each host
 *                      frame or rejected frame dispatched to its answer
 *   app_tx.c           frames sent: HELLO, STATUS, ACK, ERROR, and BEAT/ALERT kept in the retransmit ring,
 *                      replayed on RESEND (with GAP)
 *   app_update.c       the update requests (UPDATE_BEGIN .. UPDATE_ABORT) through update_rx, each answered with
 *                      UPDATE_STATE; the reset after an install
 *   app_model_check.c  the start-up check of the build's model (sha256, runtime, contract)
 *   app_sha256.c       SHA-256 of the model array (imgcrypto's) and the parse of the build's hex digest
 *   app_model.c        the build's model (model_data.h)
 */
#ifndef APP_INTERNAL_H
#define APP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- app_tx.c --- */

/* The session start: one 0x00, which makes a receiver drop whatever it held (docs/protocol.md). */
void app_tx_session_start(app_t *app);

/* HELLO, then the model's refusal as an ERROR if it was refused. */
void app_tx_hello(app_t *app);

/* ERROR `code` answering host frame `host_seq` (0: none) with a line of text (made printable, cut to
 * WIRE_STR_MAX). */
void app_tx_error(app_t *app, uint16_t code, uint32_t host_seq, const char *text);

void app_tx_status(app_t *app);
void app_tx_ack(app_t *app, uint32_t host_seq, uint8_t status);

/* BEAT or ALERT: sent and kept in the retransmit ring; returns its seq (0 if it could not be encoded). */
uint32_t app_tx_retained(app_t *app, const wire_msg_t *msg);

/* RESEND(after_seq): GAP for what the ring lost after after_seq, every retained frame after it, STATUS. */
void app_tx_resend(app_t *app, uint32_t after_seq);

/* UPDATE_STATE (its host_seq set): the answer to an update request. */
void app_tx_update_state(app_t *app, const wire_update_state_t *state);

/* --- app_update.c --- */

/* Update support from params->flash (NULL: none) and params->update_policy (NULL: the build's). */
void app_update_init(app_t *app, const app_params_t *params);

/* true when `type` is an update request this device takes. */
bool app_update_handles(const app_t *app, uint8_t type);

/* Handles an update request (app_update_handles() said so) and answers it with one UPDATE_STATE. */
void app_update_on_frame(app_t *app, const wire_msg_t *msg, uint32_t host_seq);

/* --- app_model_check.c --- */

/* Checks the model in app->model (sha256, mr_init in `arena`, its tensors against model_data.h and against
 * what this firmware feeds it) and sets app->model_status, app->model_error, app->interp and the tensors;
 * prepares app->window for the model's input quantization. */
void app_model_check(app_t *app, uint8_t *arena, size_t arena_len);

#ifdef __cplusplus
}
#endif

#endif /* APP_INTERNAL_H */
