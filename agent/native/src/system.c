// reboot(2): how the agent, as PID 1, powers the VM off after DestroySandbox (sync(2), which can
// wait on a stalled device, is in blocking_calls.c).
#include <errno.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "concerns.h"
#include "napi_helpers.h"

// reboot(cmd): RB_POWER_OFF or RB_AUTOBOOT. Returns only on failure (throws).
static napi_value reboot_fn(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t cmd;
  if (!kn_get_args(env, info, &a, 1, "reboot") || !kn_arg_int32(env, a.argv[0], &cmd, "cmd")) return NULL;
  if (reboot(cmd) < 0) { kn_throw_errno(env, errno, "reboot", "reboot with command 0x%x", (unsigned)cmd); return NULL; }
  return kn_undefined(env);
}

napi_status kn_init_system(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"reboot", NULL, reboot_fn, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_status s = napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  if (s != napi_ok) return s;
  const kn_constant constants[] = {
      {"RB_POWER_OFF", RB_POWER_OFF}, {"RB_AUTOBOOT", RB_AUTOBOOT}, {"RB_HALT_SYSTEM", RB_HALT_SYSTEM},
  };
  return kn_define_constants(env, exports, constants, sizeof constants / sizeof constants[0]);
}
