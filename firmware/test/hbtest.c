/* hbtest.c - see hbtest.h. No stdio: output goes through port_uart_write(), numbers through textfmt. */
#include "hbtest.h"

#include <string.h>

#include "port.h"
#include "textfmt.h"

void hbtest_print(const char *s)
{
    port_uart_write(s, strlen(s));
}

void hbtest_print_u32(uint32_t v)
{
    hbtest_print_i64((int64_t)v);
}

void hbtest_print_i64(int64_t v)
{
    char buf[24];
    textfmt_t t;
    textfmt_init(&t, buf, sizeof buf);
    textfmt_put_i64(&t, v);
    port_uart_write(buf, t.len);
}

void hbtest_begin(hbtest_t *t)
{
    memset(t, 0, sizeof *t);
}

bool hbtest_check(hbtest_t *t, bool ok, const char *expr, const char *file, int line)
{
    if (!ok && !t->case_failed) {
        t->case_failed = true;
        t->fail_file = file;
        t->fail_line = line;
        t->fail_expr = expr;
    }
    return ok;
}

void hbtest_run(hbtest_t *t, const char *name, hbtest_fn_t fn)
{
    t->case_failed = false;
    t->fail_file = NULL;
    t->fail_line = 0;
    t->fail_expr = NULL;

    fn(t);

    hbtest_print("CASE ");
    hbtest_print(name);
    if (!t->case_failed) {
        t->passed++;
        hbtest_print(" PASS\n");
        return;
    }
    t->failed++;
    hbtest_print(" FAIL ");
    hbtest_print(t->fail_file);
    hbtest_print(":");
    hbtest_print_u32((uint32_t)t->fail_line);
    hbtest_print(": ");
    hbtest_print(t->fail_expr);
    hbtest_print("\n");
}

int hbtest_end(hbtest_t *t)
{
    hbtest_print("hbtest: ");
    hbtest_print_u32(t->passed);
    hbtest_print(" passed, ");
    hbtest_print_u32(t->failed);
    hbtest_print(" failed\n");
    return t->failed == 0u ? 0 : 1;
}
