#include "napi_helpers.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool kn_get_args(napi_env env, napi_callback_info info, kn_args *args, size_t required, const char *fn) {
  args->argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &args->argc, args->argv, NULL, NULL) != napi_ok) return false;
  if (args->argc < required) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s: expected %zu arguments, got %zu", fn, required, args->argc);
    napi_throw_type_error(env, "ERR_INVALID_ARG_COUNT", msg);
    return false;
  }
  return true;
}

static void throw_arg_type(napi_env env, const char *what, const char *expected) {
  char msg[200];
  snprintf(msg, sizeof msg, "%s must be %s", what, expected);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
}

bool kn_arg_int32(napi_env env, napi_value v, int32_t *out, const char *what) {
  if (napi_get_value_int32(env, v, out) != napi_ok) { throw_arg_type(env, what, "a number"); return false; }
  return true;
}

bool kn_arg_uint32(napi_env env, napi_value v, uint32_t *out, const char *what) {
  if (napi_get_value_uint32(env, v, out) != napi_ok) { throw_arg_type(env, what, "a number"); return false; }
  return true;
}

bool kn_arg_int64(napi_env env, napi_value v, int64_t *out, const char *what) {
  if (napi_get_value_int64(env, v, out) != napi_ok) { throw_arg_type(env, what, "a number"); return false; }
  return true;
}

bool kn_arg_string(napi_env env, napi_value v, char **out, bool nullable, const char *what) {
  napi_valuetype t;
  *out = NULL;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (nullable && (t == napi_null || t == napi_undefined)) return true;
  if (t != napi_string) { throw_arg_type(env, what, nullable ? "a string or null" : "a string"); return false; }
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return false;
  char *s = malloc(len + 1);
  if (s == NULL) { napi_throw_error(env, "ENOMEM", "out of memory"); return false; }
  if (napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) { free(s); return false; }
  if (strlen(s) != len) {  // an embedded NUL would silently truncate a path
    free(s);
    throw_arg_type(env, what, "a string without NUL bytes");
    return false;
  }
  *out = s;
  return true;
}

const char *kn_errno_name(int err) {
  const char *name = strerrorname_np(err);
  return name != NULL ? name : "EUNKNOWN";
}

// The Error for errno `err` after operation `op` (already formatted); NULL if N-API failed.
static napi_value errno_error(napi_env env, int err, const char *syscall, const char *op) {
  char msg[640];
  const char *name = kn_errno_name(err);
  snprintf(msg, sizeof msg, "%s: %s", op, name);

  napi_value code_v, msg_v, error, errno_v, syscall_v;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code_v) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &msg_v) != napi_ok) return NULL;
  if (napi_create_error(env, code_v, msg_v, &error) != napi_ok) return NULL;
  // Node's own system errors carry a negative errno; keep that convention.
  napi_create_int32(env, -err, &errno_v);
  napi_set_named_property(env, error, "errno", errno_v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_v);
  napi_set_named_property(env, error, "syscall", syscall_v);
  return error;
}

napi_value kn_errno_error(napi_env env, int err, const char *syscall, const char *fmt, ...) {
  char op[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(op, sizeof op, fmt, ap);
  va_end(ap);
  return errno_error(env, err, syscall, op);
}

void kn_throw_errno(napi_env env, int err, const char *syscall, const char *fmt, ...) {
  char op[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(op, sizeof op, fmt, ap);
  va_end(ap);
  napi_value error = errno_error(env, err, syscall, op);
  if (error != NULL) napi_throw(env, error);
}

void kn_throw_napi_failure(napi_env env, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char msg[300];
  snprintf(msg, sizeof msg, "N-API call failed: %s (%s)", what,
           info != NULL && info->error_message != NULL ? info->error_message : "unknown");
  napi_throw_error(env, "ERR_NAPI", msg);
}

napi_value kn_int(napi_env env, int64_t v) {
  napi_value r = NULL;
  if (napi_create_int64(env, v, &r) != napi_ok) return NULL;
  return r;
}

napi_value kn_fd_result(napi_env env, int fd, const char *what) {
  napi_value r = kn_int(env, fd);
  if (r == NULL) {
    close(fd);
    kn_throw_napi_failure(env, what);
  }
  return r;
}

napi_value kn_null(napi_env env) {
  napi_value r;
  napi_get_null(env, &r);
  return r;
}

napi_value kn_undefined(napi_env env) {
  napi_value r;
  napi_get_undefined(env, &r);
  return r;
}

bool kn_set_int(napi_env env, napi_value obj, const char *key, int64_t v) {
  return napi_set_named_property(env, obj, key, kn_int(env, v)) == napi_ok;
}

napi_status kn_define_constants(napi_env env, napi_value obj, const kn_constant *c, size_t n) {
  for (size_t i = 0; i < n; i++) {
    napi_value v;
    napi_status s = napi_create_int64(env, c[i].value, &v);
    if (s == napi_ok) s = napi_set_named_property(env, obj, c[i].name, v);
    if (s != napi_ok) return s;
  }
  return napi_ok;
}

void kn_call_from_uv(napi_env env, napi_async_context ctx, napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_value fn, recv, result;
  if (napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return;
  // MakeCallback needs an object as `this`; the functions we call ignore it.
  if (napi_get_global(env, &recv) != napi_ok) return;
  if (napi_make_callback(env, ctx, recv, fn, argc, argv, &result) == napi_pending_exception) {
    napi_value exc;
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
  }
}
