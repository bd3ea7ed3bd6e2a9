// C for the pipeline: the CPU's cycle counter (TelemetryPipeline/CycleClock.swift) and cache
// prefetches for span blocks (TelemetryPipeline/SpanRecordPool.swift).
#ifndef CPIPELINESUPPORT_H
#define CPIPELINESUPPORT_H

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

/// This thread's id-generator counter (0 until the thread first draws an id). Initial-exec
/// thread-local storage: reached with one thread-pointer-relative access, no call.
extern _Thread_local uint64_t otlp_thread_id_counter __attribute__((tls_model("initial-exec")));

/// The address of this thread's id-generator counter.
static inline uint64_t *_Nonnull otlp_thread_id_counter_address(void) {
    return &otlp_thread_id_counter;
}

/// Asks the cache for the line holding `address`, to be read soon (never faults, even for
/// memory that is no longer allocated).
static inline void otlp_prefetch_for_reading(const void *_Nonnull address) {
    __builtin_prefetch(address, 0, 3);
}

/// Asks the cache for the line holding `address`, to be written soon (never faults, even for
/// memory that is no longer allocated).
static inline void otlp_prefetch_for_writing(const void *_Nonnull address) {
    __builtin_prefetch(address, 1, 3);
}

#endif
