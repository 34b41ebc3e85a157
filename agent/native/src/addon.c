// kata_native: the few Linux syscalls the agent needs that Node does not offer.
// Each concern lives in its own file; this only wires them into one module.
#include "concerns.h"
#include "napi_helpers.h"

static napi_value init(napi_env env, napi_value exports) {
  napi_status (*const inits[])(napi_env, napi_value) = {
      kn_init_poll_watch, kn_init_fd_io,   kn_init_vsock,  kn_init_fd_passing, kn_init_process_exit,
      kn_init_orphan_reaper, kn_init_mount, kn_init_namespaces, kn_init_system, kn_init_terminal, kn_init_netlink, kn_init_guest_ops,
      kn_init_spawn, kn_init_beneath, kn_init_blocking_calls,
  };
  for (size_t i = 0; i < sizeof inits / sizeof inits[0]; i++) {
    if (inits[i](env, exports) != napi_ok) {
      kn_throw_napi_failure(env, "module init");
      return NULL;
    }
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
