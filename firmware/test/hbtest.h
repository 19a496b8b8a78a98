/*
 * hbtest.h - the firmware's minimal on-target/host test harness.
 *
 * Output goes through the port's UART, one line per case, which the custom
 * PlatformIO runner (test_custom_runner.py) parses:
 *
 *   CASE <name> PASS
 *   CASE <name> FAIL <file>:<line>: <failed expression>
 *   hbtest: <passed> passed, <failed> failed
 *
 * and the program ends through port_exit(): status 0 if every case passed,
 * 1 otherwise. The runner requires the lines and the status to agree.
 *
 *   static void test_x(hbtest_t *t) { HBTEST_CHECK(t, 1 + 1 == 2); }
 *   int main(void) {
 *       hbtest_t t;
 *       port_init();
 *       hbtest_begin(&t);
 *       hbtest_run(&t, "x", test_x);
 *       port_exit(hbtest_end(&t));
 *   }
 */
#ifndef HBTEST_H
#define HBTEST_H

#include <stdbool.h>
#include <stdint.h>

typedef struct hbtest {
    uint32_t passed;
    uint32_t failed;
    /* the case being run */
    bool case_failed;
    const char *fail_file;
    int fail_line;
    const char *fail_expr;
} hbtest_t;

typedef void (*hbtest_fn_t)(hbtest_t *t);

void hbtest_begin(hbtest_t *t);
void hbtest_run(hbtest_t *t, const char *name, hbtest_fn_t fn);
/* Records a failed check (the first one of a case is reported); returns ok. */
bool hbtest_check(hbtest_t *t, bool ok, const char *expr, const char *file, int line);
/* Prints the summary line; returns the exit status for port_exit(). */
int hbtest_end(hbtest_t *t);

/* Write a NUL-terminated string, or a number in decimal, to the UART (diagnostics). */
void hbtest_print(const char *s);
void hbtest_print_u32(uint32_t v);
void hbtest_print_i64(int64_t v);

#define HBTEST_CHECK(t, cond) hbtest_check((t), (cond), #cond, __FILE__, __LINE__)

#endif /* HBTEST_H */
