// Readiness of one fd, delivered on Node's own libuv loop (uv_poll = epoll), so that the
// blocking-free syscalls in the other files run only when the kernel says they can make progress.
// No thread per fd, no busy polling. The JS side owns the fd; this only watches it.
#include "concerns.h"

#include <stdbool.h>
#include <stdlib.h>
#include <uv.h>

#include "napi_helpers.h"

typedef struct {
  uv_poll_t handle;
  napi_env env;
  napi_ref callback;           // (status: number, events: number) => void
  napi_async_context async_ctx;
  int fd;
  bool closed;                 // uv_close requested
  int owners;                  // the JS external and the uv handle; freed when both are gone
} poll_watch;

static void drop_owner(poll_watch *w) {
  if (--w->owners == 0) free(w);
}

// The JS callback and its async context are released here, not in close_watch: close_watch is
// often called from inside that very callback (napi_make_callback still uses the context).
static void on_handle_closed(uv_handle_t *h) {
  poll_watch *w = (poll_watch *)h->data;
  if (w->callback != NULL) { napi_delete_reference(w->env, w->callback); w->callback = NULL; }
  if (w->async_ctx != NULL) { napi_async_destroy(w->env, w->async_ctx); w->async_ctx = NULL; }
  drop_owner(w);
}

static void close_watch(poll_watch *w) {
  if (w->closed) return;
  w->closed = true;
  uv_poll_stop(&w->handle);
  uv_close((uv_handle_t *)&w->handle, on_handle_closed);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  poll_watch *w = (poll_watch *)h->data;
  if (w->closed || w->callback == NULL) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value argv[2] = {kn_int(env, status), kn_int(env, events)};
  kn_call_from_uv(env, w->async_ctx, w->callback, 2, argv);
  napi_close_handle_scope(env, scope);
}

// A watch dropped by JS without pollClose() still releases its handle. This also runs while
// Node tears the environment down at exit, after which on_handle_closed may no longer call
// into N-API: so the JS references go here, while the env is still valid.
static void finalize_watch(napi_env env, void *data, void *hint) {
  poll_watch *w = (poll_watch *)data;
  if (w->callback != NULL) { napi_delete_reference(env, w->callback); w->callback = NULL; }
  if (w->async_ctx != NULL) { napi_async_destroy(env, w->async_ctx); w->async_ctx = NULL; }
  close_watch(w);
  drop_owner(w);
}

static poll_watch *get_watch(napi_env env, napi_value v) {
  poll_watch *w = NULL;
  if (napi_get_value_external(env, v, (void **)&w) != napi_ok || w == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a poll watch handle");
    return NULL;
  }
  return w;
}

// pollOpen(fd, callback) -> handle
static napi_value poll_open(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t fd;
  if (!kn_get_args(env, info, &a, 2, "pollOpen") || !kn_arg_int32(env, a.argv[0], &fd, "fd")) return NULL;
  napi_valuetype cb_type;
  if (napi_typeof(env, a.argv[1], &cb_type) != napi_ok || cb_type != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "pollOpen: callback must be a function");
    return NULL;
  }
  uv_loop_t *loop;
  NAPI_OK(env, napi_get_uv_event_loop(env, &loop));
  poll_watch *w = calloc(1, sizeof *w);
  if (w == NULL) { napi_throw_error(env, "ENOMEM", "pollOpen: out of memory"); return NULL; }
  int rc = uv_poll_init(loop, &w->handle, fd);
  if (rc != 0) {
    free(w);
    kn_throw_errno(env, -rc, "uv_poll_init", "watch fd %d", fd);
    return NULL;
  }
  w->handle.data = w;
  w->owners = 2;
  w->env = env;
  w->fd = fd;
  napi_value name, external;
  napi_create_string_utf8(env, "kata_native:fd_watch", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, a.argv[1], 1, &w->callback) != napi_ok ||
      napi_async_init(env, NULL, name, &w->async_ctx) != napi_ok ||
      napi_create_external(env, w, finalize_watch, NULL, &external) != napi_ok) {
    close_watch(w);
    drop_owner(w);  // no external will ever finalize it
    kn_throw_napi_failure(env, "pollOpen");
    return NULL;
  }
  return external;
}

// pollStart(handle, events): events is a mask of UV_READABLE | UV_WRITABLE; 0 stops watching.
static napi_value poll_start(napi_env env, napi_callback_info info) {
  kn_args a;
  uint32_t events;
  if (!kn_get_args(env, info, &a, 2, "pollStart")) return NULL;
  poll_watch *w = get_watch(env, a.argv[0]);
  if (w == NULL || !kn_arg_uint32(env, a.argv[1], &events, "events")) return NULL;
  if (w->closed) return kn_undefined(env);
  events &= (UV_READABLE | UV_WRITABLE);
  int rc = events == 0 ? uv_poll_stop(&w->handle) : uv_poll_start(&w->handle, (int)events, on_poll);
  if (rc != 0) { kn_throw_errno(env, -rc, "uv_poll_start", "watch fd %d", w->fd); return NULL; }
  return kn_undefined(env);
}

// pollRef(handle, keepAlive): whether this watch keeps the event loop (the process) alive.
static napi_value poll_ref(napi_env env, napi_callback_info info) {
  kn_args a;
  bool keep;
  if (!kn_get_args(env, info, &a, 2, "pollRef")) return NULL;
  poll_watch *w = get_watch(env, a.argv[0]);
  if (w == NULL) return NULL;
  NAPI_OK(env, napi_get_value_bool(env, a.argv[1], &keep));
  if (w->closed) return kn_undefined(env);
  if (keep) uv_ref((uv_handle_t *)&w->handle); else uv_unref((uv_handle_t *)&w->handle);
  return kn_undefined(env);
}

// pollClose(handle): stops watching for good. Does not close the fd (its owner does, after this).
static napi_value poll_close(napi_env env, napi_callback_info info) {
  kn_args a;
  if (!kn_get_args(env, info, &a, 1, "pollClose")) return NULL;
  poll_watch *w = get_watch(env, a.argv[0]);
  if (w == NULL) return NULL;
  close_watch(w);
  return kn_undefined(env);
}

napi_status kn_init_poll_watch(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"pollOpen", NULL, poll_open, NULL, NULL, NULL, napi_default, NULL},
      {"pollStart", NULL, poll_start, NULL, NULL, NULL, napi_default, NULL},
      {"pollRef", NULL, poll_ref, NULL, NULL, NULL, napi_default, NULL},
      {"pollClose", NULL, poll_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_status s = napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  if (s != napi_ok) return s;
  napi_value v;
  napi_create_int32(env, UV_READABLE, &v);
  napi_set_named_property(env, exports, "POLL_READABLE", v);
  napi_create_int32(env, UV_WRITABLE, &v);
  napi_set_named_property(env, exports, "POLL_WRITABLE", v);
  return napi_ok;
}
