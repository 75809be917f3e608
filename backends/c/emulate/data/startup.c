/*
 * startup.c: reset and fault handling of edgecc's emulated Cortex-M programs (QEMU mps2/mps3).
 *
 * The linker script (emulate/data/sections.ld) defines the symbols used here. Reset_Handler
 * grants the FPU and MVE coprocessors (CPACR CP10/CP11) when the build uses them, copies .data
 * from its load address, zeroes .bss, opens newlib's semihosting streams (rdimon), runs the C
 * constructors and leaves with exit(main()), which semihosting turns into QEMU's exit status.
 * Every other exception is a fault here: it names itself (exception number, fault status
 * registers, faulting PC) on the host's stderr and ends QEMU with status EDGECC_EMU_FAULT_EXIT.
 */
#include <stdint.h>
#include <stdlib.h>

#define EDGECC_EMU_FAULT_EXIT 99

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define SCB_CPACR REG32(0xE000ED88u)
#define SCB_CFSR REG32(0xE000ED28u)
#define SCB_HFSR REG32(0xE000ED2Cu)

extern uint32_t __edgecc_data_load[], __edgecc_data_start[], __edgecc_data_end[];
extern uint32_t __edgecc_bss_start[], __edgecc_bss_end[], __edgecc_stack_top[];

extern int main(void);
extern void initialise_monitor_handles(void);
extern void __libc_init_array(void);

void Reset_Handler(void);
void edgecc_emu_fault(void);

/* -nostartfiles drops crti/crtn: __libc_init_array still calls these two */
void _init(void);
void _fini(void);
void _init(void) {}
void _fini(void) {}

static uint32_t semihosting_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static void put_hex(char *dst, uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    int i;
    for (i = 0; i < 8; ++i) {
        dst[i] = digits[(v >> (28 - 4 * i)) & 0xFu];
    }
}

/* Called by the fault entry below with the stack pointer of the exception frame. */
__attribute__((noreturn, used)) static void edgecc_emu_fault_report(const uint32_t *frame)
{
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    /* "edgecc-emu: fault exception=XXXXXXXX cfsr=XXXXXXXX hfsr=XXXXXXXX pc=XXXXXXXX\n" */
    static char msg[] = "edgecc-emu: fault exception=........ cfsr=........ hfsr=........ pc=........\n";
    put_hex(msg + 28, ipsr & 0x1FFu);
    put_hex(msg + 42, SCB_CFSR);
    put_hex(msg + 56, SCB_HFSR);
    put_hex(msg + 68, frame[6]);
    semihosting_call(0x04u /* SYS_WRITE0 */, msg);
    static const uint32_t status[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, EDGECC_EMU_FAULT_EXIT};
    semihosting_call(0x20u /* SYS_EXIT_EXTENDED */, status);
    semihosting_call(0x18u /* SYS_EXIT */, (const void *)0x20024u /* ADP_Stopped_InternalError */);
    for (;;) {
    }
}

/* The exception frame sits on MSP or PSP (EXC_RETURN bit 2); hand it to the reporter. */
__attribute__((naked)) void edgecc_emu_fault(void)
{
    __asm__ volatile(
        "tst lr, #4\n\t"
        "ite eq\n\t"
        "mrseq r0, msp\n\t"
        "mrsne r0, psp\n\t"
        "b edgecc_emu_fault_report\n\t");
}

#define F edgecc_emu_fault
__attribute__((used, section(".edgecc_vectors"))) void (*const edgecc_emu_vectors[48])(void) = {
    (void (*)(void))__edgecc_stack_top, Reset_Handler,
    F, F, F, F, F, F, 0, 0, 0, F, F, 0, F, F,  /* NMI .. SysTick (SecureFault on v8-M) */
    F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F,  /* interrupts: none is enabled */
    F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F,
};
#undef F

__attribute__((noreturn)) void Reset_Handler(void)
{
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    SCB_CPACR |= 0xFu << 20;  /* CP10 and CP11 (FPU, MVE): full access */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    const uint32_t *src = __edgecc_data_load;
    uint32_t *dst;
    for (dst = __edgecc_data_start; dst < __edgecc_data_end;) {
        *dst++ = *src++;
    }
    for (dst = __edgecc_bss_start; dst < __edgecc_bss_end;) {
        *dst++ = 0;
    }
    initialise_monitor_handles();
    __libc_init_array();
    exit(main());
}
