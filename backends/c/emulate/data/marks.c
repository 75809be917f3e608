/*
 * marks.c: the functions whose entry the instruction-count plugin watches (plugin/insn_count.c).
 *
 * edgecc_profile_begin/end(i) bracket layer i of <prefix>_run() in builds with -DEDGECC_PROFILE
 * (see edgecc/edgecc.h); edgecc_emu_run_begin/end bracket one whole <prefix>_run() call in the
 * emulator's main. They do nothing but must stay separate, never-inlined functions at distinct
 * addresses: noipa keeps GCC from inlining, cloning or folding identical bodies together, and
 * each body stores a different value so even a linker-level fold could not merge them.
 */
#include <stdint.h>

#if defined(__GNUC__)
#define EDGECC_EMU_MARK __attribute__((noipa, used))
#else
#define EDGECC_EMU_MARK
#endif

void edgecc_profile_begin(int layer);
void edgecc_profile_end(int layer);
void edgecc_emu_run_begin(void);
void edgecc_emu_run_end(void);

/* the last mark passed (handy in a debugger: 2*layer+1 / 2*layer+2, -1 / -2 for the run) */
volatile int32_t edgecc_emu_last_mark;

EDGECC_EMU_MARK void edgecc_profile_begin(int layer)
{
    edgecc_emu_last_mark = 2 * layer + 1;
}

EDGECC_EMU_MARK void edgecc_profile_end(int layer)
{
    edgecc_emu_last_mark = 2 * layer + 2;
}

EDGECC_EMU_MARK void edgecc_emu_run_begin(void)
{
    edgecc_emu_last_mark = -1;
}

EDGECC_EMU_MARK void edgecc_emu_run_end(void)
{
    edgecc_emu_last_mark = -2;
}
