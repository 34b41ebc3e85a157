// Terminal window size (TIOCSWINSZ / TIOCGWINSZ) on a pty fd, for ResizeTTY.
#include <errno.h>
#include <sys/ioctl.h>

#include "concerns.h"
#include "napi_helpers.h"

// setWindowSize(fd, rows, cols)
static napi_value set_window_size(napi_env env, napi_callback_info info) {
  kn_args a;
  uint32_t fd, rows, cols;
  if (!kn_get_args(env, info, &a, 3, "setWindowSize") || !kn_arg_uint32(env, a.argv[0], &fd, "fd") ||
      !kn_arg_uint32(env, a.argv[1], &rows, "rows") || !kn_arg_uint32(env, a.argv[2], &cols, "cols"))
    return NULL;
  if (rows > 0xffff || cols > 0xffff) {
    kn_throw_errno(env, EINVAL, "ioctl", "set window size of fd %u to %ux%u", fd, rows, cols);
    return NULL;
  }
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  if (ioctl((int)fd, TIOCSWINSZ, &ws) < 0) {
    kn_throw_errno(env, errno, "ioctl", "set window size of fd %u to %ux%u", fd, rows, cols);
    return NULL;
  }
  return kn_undefined(env);
}

// getWindowSize(fd) -> { rows, cols }
static napi_value get_window_size(napi_env env, napi_callback_info info) {
  kn_args a;
  uint32_t fd;
  if (!kn_get_args(env, info, &a, 1, "getWindowSize") || !kn_arg_uint32(env, a.argv[0], &fd, "fd")) return NULL;
  struct winsize ws;
  if (ioctl((int)fd, TIOCGWINSZ, &ws) < 0) {
    kn_throw_errno(env, errno, "ioctl", "get window size of fd %u", fd);
    return NULL;
  }
  napi_value r;
  NAPI_OK(env, napi_create_object(env, &r));
  kn_set_int(env, r, "rows", ws.ws_row);
  kn_set_int(env, r, "cols", ws.ws_col);
  return r;
}

napi_status kn_init_terminal(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"setWindowSize", NULL, set_window_size, NULL, NULL, NULL, napi_default, NULL},
      {"getWindowSize", NULL, get_window_size, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
