/* app_update.c - the update requests (see app_internal.h): each one handed to update_rx and answered with one
 * UPDATE_STATE naming its seq (docs/protocol.md 3.6). The image goes to the inactive slot through the flash ops of
 * app_params_t, checked with imgcrypto against the build's key (update_policy). Each request's flash work is
 * bounded (a chunk: at most one page erase and one write of at most 256 bytes; END reads the image once and checks
 * one signature); app_rx() runs the signal path over every sample received before it handles the request, and the
 * UART is not read while it works, so no sample is dropped (app.h, back-pressure). */
#include <string.h>

#include "app_internal.h"
#include "boot_crypto_imgcrypto.h"
#include "update_policy.h"

void app_update_init(app_t *app, const app_params_t *params)
{
    app->update_enabled = params != NULL && params->flash != NULL;
    if (!app->update_enabled) {
        return;
    }
    app->update_reset = params->reset;
    if (params->update_policy != NULL) {
        app->update_policy = *params->update_policy;
    } else {
        update_policy_builtin(&app->update_policy);
    }
    boot_crypto_imgcrypto_bind(&app->update_crypto, &app->update_sha);
    const update_rx_config_t cfg = {
        .flash = params->flash,
        .layout = BOOT_LAYOUT_DEFAULT,
        .crypto = &app->update_crypto,
        .policy = &app->update_policy,
        .buf = app->update_buf,
        .buf_len = sizeof app->update_buf,
    };
    update_rx_init(&app->update, &cfg);
}

bool app_update_handles(const app_t *app, uint8_t type)
{
    if (!app->update_enabled) {
        return false;
    }
    switch (type) {
    case WIRE_T_UPDATE_BEGIN:
    case WIRE_T_UPDATE_CHUNK:
    case WIRE_T_UPDATE_END:
    case WIRE_T_UPDATE_INSTALL:
    case WIRE_T_UPDATE_ABORT:
        return true;
    default:
        return false;
    }
}

/* The reset into the bootloader once INSTALLING is answered: the one place it happens. The bootloader
 * integration completes it (app_params_t.reset: wait for the UART to drain, then the system reset); until then
 * the device keeps running this image, answers INSTALLING / BUSY, and the PENDING record waits for the next boot. */
static void app_update_reset(app_t *app)
{
    if (app->update_reset != NULL) {
        app->update_reset();
    }
}

void app_update_on_frame(app_t *app, const wire_msg_t *msg, uint32_t host_seq)
{
    wire_update_state_t st;
    memset(&st, 0, sizeof st);
    switch (msg->type) {
    case WIRE_T_UPDATE_BEGIN:
        update_rx_begin(&app->update, &msg->u.update_begin, &st);
        break;
    case WIRE_T_UPDATE_CHUNK:
        update_rx_chunk(&app->update, &msg->u.update_chunk, &st);
        break;
    case WIRE_T_UPDATE_END:
        update_rx_end(&app->update, &st);
        break;
    case WIRE_T_UPDATE_INSTALL:
        update_rx_install(&app->update, &st);
        break;
    default:
        update_rx_abort(&app->update, &st);
        break;
    }
    st.host_seq = host_seq;
    app_tx_update_state(app, &st);
    if (msg->type == WIRE_T_UPDATE_INSTALL && st.state == WIRE_XFER_INSTALLING && st.result == WIRE_UPD_OK) {
        app_update_reset(app);
    }
}
