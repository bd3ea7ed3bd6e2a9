#include "CPipelineSupport.h"

_Thread_local uint64_t otlp_thread_id_counter __attribute__((tls_model("initial-exec"))) = 0;

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

int otlp_cycle_counter_is_invariant(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(0x80000000u, &eax, &ebx, &ecx, &edx) || eax < 0x80000007u) return 0;
    if (!__get_cpuid(0x80000007u, &eax, &ebx, &ecx, &edx)) return 0;
    return (int)((edx >> 8) & 1u);
#else
    return 0;
#endif
}
