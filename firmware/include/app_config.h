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

#endif /* APP_CONFIG_H */
