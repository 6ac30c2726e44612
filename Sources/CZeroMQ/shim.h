#ifndef AGENTOS_CZEROMQ_SHIM_H
#define AGENTOS_CZEROMQ_SHIM_H
#include <zmq.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

/// Names the calling thread (Linux keeps 15 bytes), where top -H and gdb show it; prctl is
/// variadic, so Swift cannot call it directly.
static inline void agentos_set_thread_name(const char *name) {
#ifdef __linux__
    prctl(PR_SET_NAME, name, 0, 0, 0);
#else
    (void)name;
#endif
}
#endif
