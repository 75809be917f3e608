/*
 * insn_count.c: QEMU TCG plugin that counts executed guest instructions and records the count
 * each time execution enters one of a few watched addresses (edgecc's mark functions).
 *
 *   qemu-system-arm ... -plugin libedgecc_insn_count.so,mark=0x...,mark=0x...,out=FILE
 *
 * Every translation block adds its instruction count to one counter when it starts executing
 * (an inline add: exact, cheap, and identical from run to run). A block that starts at a mark
 * also gets a callback, which appends "<mark index> <counter>" to an event list; the mark
 * functions are call targets, so a block always starts at their entry. QEMU 7.x runs a block's
 * callbacks before its inline ops, so an event's counter excludes the mark's own block. At exit
 * FILE receives "total <n>" and then one "event <mark> <counter>" line per event, in order;
 * the Python side (edgecc.backends.c.emulate.counts) turns event pairs into region counts.
 * A block cut short by an exception is still counted whole; the programs take none while a
 * model runs (semihosting calls happen outside the marks).
 *
 * Built by the host C compiler against QEMU's plugin API version 1 (QEMU 7.x, e.g. Debian 12's
 * 7.2), whose few declarations are repeated below so that no QEMU headers are needed.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the part of <qemu-plugin.h> (API version 1) used here ---- */
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                           void (*cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb));
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, void (*cb)(unsigned int vcpu, void *udata),
                                          enum qemu_plugin_cb_flags flags, void *udata);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
                                              uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, void (*cb)(qemu_plugin_id_t id, void *udata),
                                    void *udata);
/* ---- end of the API part ---- */

#define EXPORT __attribute__((visibility("default")))
#define MAX_MARKS 8

EXPORT int qemu_plugin_version = 1;

static uint64_t executed;  /* one vCPU: a plain counter */
static uint64_t marks[MAX_MARKS];
static uintptr_t n_marks;
static char *out_path;

struct event {
    uint32_t mark;
    uint64_t count;
};
static struct event *events;
static size_t n_events, cap_events;
static bool out_of_memory;

static void on_mark(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    if (n_events == cap_events) {
        size_t cap = cap_events ? 2 * cap_events : 4096;
        struct event *grown = realloc(events, cap * sizeof *grown);
        if (grown == NULL) {
            out_of_memory = true;
            return;
        }
        events = grown;
        cap_events = cap;
    }
    events[n_events].mark = (uint32_t)(uintptr_t)udata;
    events[n_events].count = executed;
    ++n_events;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    const uint64_t pc = qemu_plugin_tb_vaddr(tb) & ~(uint64_t)1;
    for (uintptr_t m = 0; m < n_marks; ++m) {
        if (pc == marks[m]) {
            qemu_plugin_register_vcpu_tb_exec_cb(tb, on_mark, QEMU_PLUGIN_CB_NO_REGS, (void *)m);
        }
    }
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &executed,
                                             qemu_plugin_tb_n_insns(tb));
}

static void on_exit_(qemu_plugin_id_t id, void *udata)
{
    (void)id;
    (void)udata;
    FILE *f = out_path ? fopen(out_path, "w") : NULL;
    if (f == NULL) {
        fprintf(stderr, "edgecc insn_count: cannot write %s\n", out_path ? out_path : "(no out=)");
        return;
    }
    fprintf(f, "total %" PRIu64 "\n", executed);
    if (out_of_memory) {
        fputs("error out-of-memory\n", f);
    }
    for (size_t i = 0; i < n_events; ++i) {
        fprintf(f, "event %" PRIu32 " %" PRIu64 "\n", events[i].mark, events[i].count);
    }
    fclose(f);
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; ++i) {
        if (strncmp(argv[i], "mark=", 5) == 0 && n_marks < MAX_MARKS) {
            marks[n_marks++] = strtoull(argv[i] + 5, NULL, 0) & ~(uint64_t)1;
        } else if (strncmp(argv[i], "out=", 4) == 0) {
            const size_t n = strlen(argv[i] + 4) + 1;
            out_path = malloc(n);
            if (out_path == NULL) {
                return -1;
            }
            memcpy(out_path, argv[i] + 4, n);
        } else {
            fprintf(stderr, "edgecc insn_count: unknown argument '%s'\n", argv[i]);
            return -1;
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit_, NULL);
    return 0;
}
