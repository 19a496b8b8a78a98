/*
 * app_config.h - build-time settings of the Heartbeat Edge firmware.
 * Every value is checked at compile time below.
 */
#ifndef APP_CONFIG_H
#define APP_CONFIG_H

/* Firmware version reported in the boot line. */
#define APP_FW_VERSION "0.1.0"

/* ECG sampling rate: the MIT-BIH Arrhythmia Database is sampled at 360 Hz. */
#define APP_SAMPLE_RATE_HZ 360u

/* Bytes read from the UART per call in the main loop. */
#define APP_UART_RX_CHUNK 64u

/* How long the main loop waits for UART input before looking again (ms). */
#define APP_UART_POLL_MS 100u

_Static_assert(APP_SAMPLE_RATE_HZ >= 100u && APP_SAMPLE_RATE_HZ <= 1000u,
               "APP_SAMPLE_RATE_HZ outside the range the DSP is designed for");
_Static_assert(APP_UART_RX_CHUNK >= 1u && APP_UART_RX_CHUNK <= 1024u,
               "APP_UART_RX_CHUNK must be 1..1024 bytes");
_Static_assert(APP_UART_POLL_MS >= 1u, "APP_UART_POLL_MS must be at least 1 ms");

/* ------------------------------------------------------------------------
 * Device application (firmware/lib/app, firmware/src/main.c)
 * ------------------------------------------------------------------------ */

/* Identity reported in HELLO (an emulated device has no serial number). */
#ifndef APP_DEVICE_ID
#define APP_DEVICE_ID "heartbeat-edge-emu"
#endif

/* The device's input range: ADC codes of the 11-bit converter the model was
 * trained on (MIT-BIH: 200 codes/mV over 10 mV). SAMPLES values outside it
 * are clamped and answered with ERROR SAMPLE_RANGE. */
#define APP_SAMPLE_MIN 0
#define APP_SAMPLE_MAX 2047

/* Received samples waiting for the signal path. The UART is read only while
 * a whole SAMPLES frame (240 samples) fits: back-pressure, never a drop. */
#define APP_SAMPLE_FIFO_LEN 512u

/* Retransmit ring: the most recent BEAT and ALERT frames kept for RESEND
 * (about 100 s of beats at 75 bpm). */
#define APP_TXRING_SLOTS 128u

/* At boot the device waits this long for the host's first byte and mixes the
 * cycle counter at its arrival into the boot id. */
#define APP_BOOT_ID_WAIT_MS 2000u

/* Default alert rule (docs/protocol.md, CONFIG), applied after every boot:
 * S, V and F beats are abnormal; rule 1 fires at a class probability of
 * 0.9 (S, F) or 0.8 (V); rule 2 fires on 4 abnormal beats within 16. */
#define APP_ALERT_THRESHOLDS {255u, 230u, 204u, 230u, 255u}
#define APP_ALERT_K 4u
#define APP_ALERT_WINDOW 16u
#define APP_ALERT_ENABLED (0x02u | 0x04u | 0x08u | 0x20u | 0x40u)

_Static_assert(APP_SAMPLE_MIN < APP_SAMPLE_MAX && APP_SAMPLE_MIN >= -32768 && APP_SAMPLE_MAX <= 32767,
               "APP_SAMPLE_MIN..APP_SAMPLE_MAX must be a range of int16 values");
_Static_assert(APP_SAMPLE_FIFO_LEN >= 240u && APP_SAMPLE_FIFO_LEN <= 65535u,
               "APP_SAMPLE_FIFO_LEN must hold at least one full SAMPLES frame (240 samples)");
_Static_assert(APP_TXRING_SLOTS >= 2u && APP_TXRING_SLOTS <= 4096u, "APP_TXRING_SLOTS must be 2..4096");
_Static_assert(APP_ALERT_K >= 1u && APP_ALERT_K <= APP_ALERT_WINDOW && APP_ALERT_WINDOW <= 255u,
               "the default alert rule needs 1 <= APP_ALERT_K <= APP_ALERT_WINDOW <= 255");
_Static_assert((APP_ALERT_ENABLED & 0x80u) == 0u, "bit 7 of APP_ALERT_ENABLED is reserved");

#endif /* APP_CONFIG_H */
