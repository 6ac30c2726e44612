#ifndef AGENTOS_CSECCOMP_SHIM_H
#define AGENTOS_CSECCOMP_SHIM_H
#include <seccomp.h>
#include <stdint.h>

/// SCMP_ACT_ERRNO(error): fail the call with `error`. The macro takes an argument, so Swift
/// cannot use it directly.
static inline uint32_t agentos_scmp_act_errno(uint16_t error) {
    return SCMP_ACT_ERRNO(error);
}
#endif
