// The CPU's cycle counter, for the pipeline's clock (TelemetryPipeline/CycleClock.swift).
#ifndef CCYCLECOUNTER_H
#define CCYCLECOUNTER_H

#include <stdint.h>

/// Reads the cycle counter (the x86 time-stamp counter) without serializing the instruction
/// stream, unlike the kernel's clock_gettime (which orders the read with a fence); 0 on
/// architectures without one.
static inline uint64_t otlp_cycle_counter_read(void) {
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_ia32_rdtsc();
#else
    return 0;
#endif
}

/// 1 when the counter ticks at one constant rate on every core and in every power state (x86
/// "invariant TSC", CPUID leaf 0x80000007, EDX bit 8), else 0.
int otlp_cycle_counter_is_invariant(void);

#endif
