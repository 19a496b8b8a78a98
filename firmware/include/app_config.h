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
_Static_assert(APP_UART_RX_CHUNK >= 1u && APP_UART_RX_CHUNK <= 1024u, "APP_UART_RX_CHUNK must be 1..1024 bytes");
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

/* Firmware updates: the work buffer of the image check at UPDATE_END (the slot is
 * read through it for hashing; bigger is fewer flash reads). */
#define APP_UPDATE_CHECK_BUF 256u

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

/* ------------------------------------------------------------------------
 * Device signal path (firmware/lib/ecg_dsp, firmware/lib/beat_window): the
 * C twin of toolchain/dsp.py. Every APP_DSP_<NAME> below equals
 * toolchain.dsp.<NAME> (tests/firmware/test_dsp_twin.py compares them one by
 * one), and APP_DSP_VERSION equals dsp.DSP_VERSION (the golden tests compare
 * it with the vectors' version). Change them only together with dsp.py.
 * ------------------------------------------------------------------------ */
#define APP_DSP_VERSION "3"

/* filters (samples) */
#define APP_DSP_LP_LEN 8u       /* low-pass moving sum */
#define APP_DSP_HP_LEN 32u      /* high-pass moving average */
#define APP_DSP_HP_DELAY 16u    /* its delay */
#define APP_DSP_MWI_LEN 54u     /* 150 ms moving-window integration */
#define APP_DSP_ENERGY_SHIFT 8u /* e = d*d >> 8 */
/* detector (samples) */
#define APP_DSP_LEARN_SAMPLES 720u /* thresholds learned over the first 2 s */
#define APP_DSP_LEARN_MAX_CANDIDATES 16u
#define APP_DSP_REFRACTORY 72u    /* 200 ms */
#define APP_DSP_TWAVE_WINDOW 130u /* 360 ms */
#define APP_DSP_PEAK_TIMEOUT 72u  /* a tracked peak is emitted 200 ms after its last rise at the latest */
#define APP_DSP_R_SEARCH 72u      /* samples of |h| searched for the R peak before the integrated peak */
#define APP_DSP_R_DELAY 20u       /* band-pass delay */
#define APP_DSP_SEARCHBACK_NUM 166u
#define APP_DSP_SEARCHBACK_DEN 100u
#define APP_DSP_SEARCHBACK_MAX 1200u /* 3.3 s cap on the search-back interval */
#define APP_DSP_RR_HISTORY 8u        /* RR intervals in the search-back mean */
#define APP_DSP_DEFAULT_RR 360u      /* mean RR before any interval is known */
/* beat window and RR features (the model's inputs) */
#define APP_DSP_WINDOW_PRE 92u
#define APP_DSP_WINDOW_POST 164u
#define APP_DSP_DECIMATION 2u
#define APP_DSP_WINDOW_LEN 128u
#define APP_DSP_WINDOW_PEAK 127u
#define APP_DSP_RR_FEATURES 3u
#define APP_DSP_RR_LONG_HISTORY 64u /* intervals in the running mean RR */
#define APP_DSP_RR_RATIO_GAIN 256u

/* Memory of the signal path (fixed, caller-owned state structs). */
/* |h| and |d| of the last samples, for R localisation (power of two). */
#define APP_DSP_TRACE_RING_LEN 256u
/* Raw samples kept for beat windows (power of two; int16 each). */
#define APP_DSP_RAW_RING_LEN 2048u
/* Beats waiting for their post-RR / complete window or for the caller to
 * take them; when full, the oldest is dropped and counted (beat_window.h). */
#define APP_DSP_BEAT_QUEUE_LEN 20u
/* Most R peaks ecg_dsp_push()/ecg_dsp_finish() can accept at one sample:
 * the end of the learning period replays every buffered candidate. */
#define APP_DSP_MAX_PEAKS_PER_PUSH APP_DSP_LEARN_MAX_CANDIDATES

_Static_assert(APP_SAMPLE_RATE_HZ == 360u, "the signal path (toolchain/dsp.py) is defined at 360 Hz");
_Static_assert(APP_DSP_LEARN_SAMPLES == 2u * APP_SAMPLE_RATE_HZ, "the learning period is 2 s");
_Static_assert(APP_DSP_HP_DELAY < APP_DSP_HP_LEN && APP_DSP_LP_LEN >= 1u && APP_DSP_MWI_LEN >= 1u, "filter lengths");
_Static_assert((APP_DSP_LP_LEN & (APP_DSP_LP_LEN - 1u)) == 0u && (APP_DSP_HP_LEN & (APP_DSP_HP_LEN - 1u)) == 0u,
               "the low-pass and high-pass histories are power-of-two rings");
_Static_assert((APP_DSP_WINDOW_LEN * APP_DSP_DECIMATION) == APP_DSP_WINDOW_PRE + APP_DSP_WINDOW_POST &&
                   APP_DSP_DECIMATION == 2u,
               "the window is WINDOW_PRE + WINDOW_POST samples decimated by summing pairs");
_Static_assert(APP_DSP_WINDOW_PEAK <= 127u, "window values are int8");
/* R localisation looks at |h|, |d| from (peak - R_SEARCH) to the peak, and a
 * peak is emitted at most PEAK_TIMEOUT samples after it. */
_Static_assert((APP_DSP_TRACE_RING_LEN & (APP_DSP_TRACE_RING_LEN - 1u)) == 0u &&
                   APP_DSP_TRACE_RING_LEN >= APP_DSP_PEAK_TIMEOUT + APP_DSP_R_SEARCH + 1u,
               "APP_DSP_TRACE_RING_LEN must be a power of two covering PEAK_TIMEOUT + R_SEARCH + 1 samples");
/* When an R peak is accepted, its window may still need samples back to
 * R - WINDOW_PRE. An R peak is at most PEAK_TIMEOUT + R_SEARCH + R_DELAY
 * samples old when accepted from a fresh candidate, SEARCHBACK_MAX + 1 -
 * REFRACTORY when accepted by search-back, and at the end of the learning
 * period every sample since the stream start (LEARN_SAMPLES) may be needed. */
_Static_assert((APP_DSP_RAW_RING_LEN & (APP_DSP_RAW_RING_LEN - 1u)) == 0u, "APP_DSP_RAW_RING_LEN: a power of two");
_Static_assert(APP_DSP_RAW_RING_LEN >= APP_DSP_SEARCHBACK_MAX + 1u - APP_DSP_REFRACTORY + APP_DSP_WINDOW_PRE + 1u &&
                   APP_DSP_RAW_RING_LEN >=
                       APP_DSP_PEAK_TIMEOUT + APP_DSP_R_SEARCH + APP_DSP_R_DELAY + APP_DSP_WINDOW_PRE + 1u &&
                   APP_DSP_RAW_RING_LEN >= APP_DSP_LEARN_SAMPLES &&
                   APP_DSP_RAW_RING_LEN >= APP_DSP_WINDOW_PRE + APP_DSP_WINDOW_POST,
               "APP_DSP_RAW_RING_LEN must cover the search-back delay plus WINDOW_PRE, and the learning period");
_Static_assert(APP_DSP_SEARCHBACK_MAX >= APP_DSP_REFRACTORY, "search-back cap below the refractory period");
/* Between two samples at most 2 beats wait for their post-RR or window (an
 * accepted R is at least R_DELAY + 1 samples old, its window completes
 * WINDOW_POST samples after it, and R peaks are >= REFRACTORY apart), so a
 * caller that drains the queue after every sample needs room for those plus
 * what one push can accept. */
_Static_assert(2u * APP_DSP_REFRACTORY >= APP_DSP_WINDOW_POST - APP_DSP_R_DELAY - 1u,
               "the bound of 2 waiting beats assumes 2 * REFRACTORY >= WINDOW_POST - R_DELAY - 1");
_Static_assert(APP_DSP_BEAT_QUEUE_LEN >= APP_DSP_MAX_PEAKS_PER_PUSH + 2u && APP_DSP_BEAT_QUEUE_LEN <= 255u,
               "APP_DSP_BEAT_QUEUE_LEN must hold the beats of one push plus the pending ones");
_Static_assert(APP_DSP_MAX_PEAKS_PER_PUSH >= APP_DSP_LEARN_MAX_CANDIDATES && APP_DSP_MAX_PEAKS_PER_PUSH >= 2u,
               "one push accepts up to every learning candidate, or a search-back peak and a candidate");
_Static_assert(APP_DSP_RR_HISTORY >= 1u && APP_DSP_RR_LONG_HISTORY >= 1u && APP_DSP_RR_LONG_HISTORY <= 65535u,
               "RR histories");

#endif /* APP_CONFIG_H */
