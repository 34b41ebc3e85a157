#ifndef KATA_EXIT_STATUS_H
#define KATA_EXIT_STATUS_H
#include <signal.h>
#include "napi_helpers.h"
// { pid, code } for a normal exit, { pid, signal } (a number) for death by signal.
napi_value kn_exit_status(napi_env env, const siginfo_t *si);
#endif
