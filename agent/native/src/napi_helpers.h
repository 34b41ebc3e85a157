// Small helpers shared by every concern: argument parsing, errno errors, object building.
#ifndef KATA_NAPI_HELPERS_H
#define KATA_NAPI_HELPERS_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_ARGS 6

// Bail out of a napi callback when a napi call fails (an exception is then pending).
#define NAPI_OK(env, call)                                   \
  do {                                                       \
    if ((call) != napi_ok) {                                 \
      kn_throw_napi_failure((env), #call);                   \
      return NULL;                                           \
    }                                                        \
  } while (0)

typedef struct {
  size_t argc;
  napi_value argv[MAX_ARGS];
} kn_args;

// Reads the call's arguments; throws a TypeError and returns false when fewer than `required`.
bool kn_get_args(napi_env env, napi_callback_info info, kn_args *args, size_t required, const char *fn);

bool kn_arg_int32(napi_env env, napi_value v, int32_t *out, const char *what);
bool kn_arg_uint32(napi_env env, napi_value v, uint32_t *out, const char *what);
bool kn_arg_int64(napi_env env, napi_value v, int64_t *out, const char *what);
// Copies a JS string into a malloc'd C string (caller frees). null/undefined -> NULL when nullable.
bool kn_arg_string(napi_env env, napi_value v, char **out, bool nullable, const char *what);

// Throws an Error whose message is "<formatted operation>: <ERRNO NAME>", with code, errno, syscall.
void kn_throw_errno(napi_env env, int err, const char *syscall, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
// The same Error, returned instead of thrown (to reject a Promise with); NULL if N-API failed.
napi_value kn_errno_error(napi_env env, int err, const char *syscall, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void kn_throw_napi_failure(napi_env env, const char *what);

// errno number -> "ENOENT" etc.
const char *kn_errno_name(int err);

// NULL (and maybe an exception pending) when N-API fails.
napi_value kn_int(napi_env env, int64_t v);
// An fd just opened, as the JS number its caller will own. Should that number fail to be made,
// the fd is closed (nobody else knows it) and an error is thrown naming `what`: every function
// that returns a new fd ends with this, or closes the fd itself on each failure after opening it.
napi_value kn_fd_result(napi_env env, int fd, const char *what);
napi_value kn_null(napi_env env);
napi_value kn_undefined(napi_env env);
bool kn_set_int(napi_env env, napi_value obj, const char *key, int64_t v);

typedef struct {
  const char *name;
  int64_t value;
} kn_constant;
// Defines named integer constants on an object (e.g. MS_BIND on the exports).
napi_status kn_define_constants(napi_env env, napi_value obj, const kn_constant *c, size_t n);

// Calls a JS function from a libuv callback, draining microtasks/nextTicks afterwards and routing
// a thrown exception to process 'uncaughtException' (as Node does for its own handles).
void kn_call_from_uv(napi_env env, napi_async_context ctx, napi_ref fn_ref, size_t argc, napi_value *argv);

#endif
