/*
 * port_noadc.c - the ADC part of port.h for the targets that have none (native, QEMU): the emulated
 * device gets its samples over the UART (SAMPLES frames), so sampling never starts and nothing is ever
 * read or lost. select_port.py builds it next to port_<target>.c for the ports listed in NO_ADC.
 */
#include "port.h"

bool port_adc_start(uint32_t rate_hz)
{
    (void)rate_hz;
    return false;
}

size_t port_adc_read(int16_t *out, size_t cap)
{
    (void)out;
    (void)cap;
    return 0;
}

uint32_t port_adc_overruns(void)
{
    return 0;
}
