// setns(2), unshare(2), sethostname(2).
// Note: Node is multi-threaded and these change the calling (JS) thread only. unshare(CLONE_NEWNS)
// gives just that thread a new mount namespace (libuv's threadpool stays behind); setns into a
// mount namespace fails with EINVAL (the fs_struct is shared). Containers get namespaces from crun.
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "concerns.h"
#include "napi_helpers.h"

// setns(fd, nstype)
static napi_value setns_fn(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t fd, nstype;
  if (!kn_get_args(env, info, &a, 2, "setns") || !kn_arg_int32(env, a.argv[0], &fd, "fd") ||
      !kn_arg_int32(env, a.argv[1], &nstype, "nstype"))
    return NULL;
  if (setns(fd, nstype) < 0) { kn_throw_errno(env, errno, "setns", "enter namespace fd %d", fd); return NULL; }
  return kn_undefined(env);
}

// unshare(flags)
static napi_value unshare_fn(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t flags;
  if (!kn_get_args(env, info, &a, 1, "unshare") || !kn_arg_int32(env, a.argv[0], &flags, "flags")) return NULL;
  if (unshare(flags) < 0) { kn_throw_errno(env, errno, "unshare", "unshare namespaces 0x%x", (unsigned)flags); return NULL; }
  return kn_undefined(env);
}

// sethostname(name)
static napi_value sethostname_fn(napi_env env, napi_callback_info info) {
  kn_args a;
  char *name = NULL;
  if (!kn_get_args(env, info, &a, 1, "sethostname") || !kn_arg_string(env, a.argv[0], &name, false, "name")) return NULL;
  napi_value result = NULL;
  if (sethostname(name, strlen(name)) < 0) kn_throw_errno(env, errno, "sethostname", "set hostname %s", name);
  else result = kn_undefined(env);
  free(name);
  return result;
}

napi_status kn_init_namespaces(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"setns", NULL, setns_fn, NULL, NULL, NULL, napi_default, NULL},
      {"unshare", NULL, unshare_fn, NULL, NULL, NULL, napi_default, NULL},
      {"sethostname", NULL, sethostname_fn, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_status s = napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  if (s != napi_ok) return s;
  const kn_constant constants[] = {
      {"CLONE_NEWNS", CLONE_NEWNS},         {"CLONE_NEWUTS", CLONE_NEWUTS},   {"CLONE_NEWIPC", CLONE_NEWIPC},
      {"CLONE_NEWPID", CLONE_NEWPID},       {"CLONE_NEWNET", CLONE_NEWNET},   {"CLONE_NEWUSER", CLONE_NEWUSER},
      {"CLONE_NEWCGROUP", CLONE_NEWCGROUP}, {"CLONE_NEWTIME", 0x00000080},
  };
  return kn_define_constants(env, exports, constants, sizeof constants / sizeof constants[0]);
}
