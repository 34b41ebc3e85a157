// Each file registers its own functions and constants on the module's exports.
#ifndef KATA_CONCERNS_H
#define KATA_CONCERNS_H
#include <node_api.h>

napi_status kn_init_poll_watch(napi_env env, napi_value exports);
napi_status kn_init_fd_io(napi_env env, napi_value exports);
napi_status kn_init_vsock(napi_env env, napi_value exports);
napi_status kn_init_fd_passing(napi_env env, napi_value exports);
napi_status kn_init_process_exit(napi_env env, napi_value exports);
napi_status kn_init_orphan_reaper(napi_env env, napi_value exports);
napi_status kn_init_mount(napi_env env, napi_value exports);
napi_status kn_init_namespaces(napi_env env, napi_value exports);
napi_status kn_init_system(napi_env env, napi_value exports);
napi_status kn_init_terminal(napi_env env, napi_value exports);
napi_status kn_init_guest_ops(napi_env env, napi_value exports);
napi_status kn_init_netlink(napi_env env, napi_value exports);
napi_status kn_init_netlink(napi_env env, napi_value exports);
napi_status kn_init_guest_ops(napi_env env, napi_value exports);
napi_status kn_init_spawn(napi_env env, napi_value exports);
napi_status kn_init_beneath(napi_env env, napi_value exports);
napi_status kn_init_blocking_calls(napi_env env, napi_value exports);

#endif
