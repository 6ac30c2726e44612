#ifndef AGENTOS_CZEROMQ_SHIM_H
#define AGENTOS_CZEROMQ_SHIM_H
#include <zmq.h>
#endif
