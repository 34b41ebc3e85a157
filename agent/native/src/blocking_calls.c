// Syscalls that can wait on a filesystem server or a device for as long as it likes (mount,
// umount2, sync, swapon/swapoff, statfs, stat, realpath's lookups): each runs on a detached thread of its own and
// settles a Promise on the JS thread through a napi_threadsafe_function, so a virtio-fs or 9p
// server that stalls freezes only that thread, never the event loop.
//
// Not libuv's threadpool: it has four threads shared with every fs call, so four hung mounts
// would stall all of Node's file I/O. A thread per call costs about 0.1 ms a call (README), which
// the few mounts of a container do not notice; nothing while it waits; a stuck one is simply left
// behind (it ends with the process).
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/swap.h>
#include <unistd.h>

#include "concerns.h"
#include "napi_helpers.h"

typedef enum { CALL_MOUNT, CALL_UMOUNT2, CALL_SYNC, CALL_SWAPON, CALL_SWAPOFF, CALL_STATFS, CALL_STAT, CALL_REALPATH } call_kind;

typedef struct {
  call_kind kind;
  // mount: source, target, fstype, data; every other call: path in `target`; realpath's result
  // in `source`.
  char *source, *target, *fstype, *data;
  int64_t flags;
  int err;  // errno of the call, 0 on success
  struct statfs fs;
  napi_deferred deferred;
  napi_threadsafe_function tsfn;
} blocking_call;

static void call_free(blocking_call *c) {
  free(c->source);
  free(c->target);
  free(c->fstype);
  free(c->data);
  free(c);
}

static void run_call(blocking_call *c) {
  int rc = 0;
  switch (c->kind) {
    case CALL_MOUNT: rc = mount(c->source, c->target, c->fstype, (unsigned long)c->flags, c->data); break;
    case CALL_UMOUNT2: rc = umount2(c->target, (int)c->flags); break;
    case CALL_SYNC: sync(); break;
    case CALL_SWAPON: rc = swapon(c->target, (int)c->flags); break;
    case CALL_SWAPOFF: rc = swapoff(c->target); break;
    case CALL_STATFS: rc = statfs(c->target, &c->fs); break;
    case CALL_STAT: {
      struct stat st;
      rc = stat(c->target, &st);
      break;
    }
    case CALL_REALPATH:
      c->source = realpath(c->target, NULL);
      rc = c->source == NULL ? -1 : 0;
      break;
  }
  c->err = rc < 0 ? errno : 0;
}

// The rejection, worded like the synchronous calls' errors ("mount tmpfs none at /x: EBUSY").
static napi_value call_error(napi_env env, const blocking_call *c) {
  const char *source = c->source ? c->source : "none";
  switch (c->kind) {
    case CALL_MOUNT:
      if (c->fstype != NULL) return kn_errno_error(env, c->err, "mount", "mount %s %s at %s", c->fstype, source, c->target);
      return kn_errno_error(env, c->err, "mount", "mount %s at %s", source, c->target);
    case CALL_UMOUNT2: return kn_errno_error(env, c->err, "umount2", "unmount %s", c->target);
    case CALL_SYNC: return kn_errno_error(env, c->err, "sync", "sync");
    case CALL_SWAPON: return kn_errno_error(env, c->err, "swapon", "swapon %s", c->target);
    case CALL_SWAPOFF: return kn_errno_error(env, c->err, "swapoff", "swapoff %s", c->target);
    case CALL_STATFS: return kn_errno_error(env, c->err, "statfs", "statfs %s", c->target);
    case CALL_STAT: return kn_errno_error(env, c->err, "stat", "stat %s", c->target);
    case CALL_REALPATH: return kn_errno_error(env, c->err, "realpath", "realpath %s", c->target);
  }
  return NULL;
}

static bool set_bigint(napi_env env, napi_value obj, const char *key, uint64_t v) {
  napi_value n;
  return napi_create_bigint_uint64(env, v, &n) == napi_ok && napi_set_named_property(env, obj, key, n) == napi_ok;
}

// statfs as Node's statfs(path, { bigint: true }) gives it.
static napi_value statfs_result(napi_env env, const struct statfs *fs) {
  napi_value obj;
  if (napi_create_object(env, &obj) != napi_ok) return NULL;
  if (!set_bigint(env, obj, "type", (uint64_t)fs->f_type) || !set_bigint(env, obj, "bsize", (uint64_t)fs->f_bsize) ||
      !set_bigint(env, obj, "blocks", fs->f_blocks) || !set_bigint(env, obj, "bfree", fs->f_bfree) ||
      !set_bigint(env, obj, "bavail", fs->f_bavail) || !set_bigint(env, obj, "files", fs->f_files) ||
      !set_bigint(env, obj, "ffree", fs->f_ffree))
    return NULL;
  return obj;
}

// On the JS thread, once the call returned. env is NULL when the environment is going away:
// then there is no Promise left to settle, only memory to free.
static void settle(napi_env env, napi_value js_cb, void *context, void *data) {
  blocking_call *c = data;
  if (env != NULL) {
    napi_value value = NULL;
    if (c->err != 0) {
      value = call_error(env, c);
      if (value != NULL) napi_reject_deferred(env, c->deferred, value);
    } else {
      if (c->kind == CALL_STATFS) value = statfs_result(env, &c->fs);
      else if (c->kind == CALL_REALPATH && napi_create_string_utf8(env, c->source, NAPI_AUTO_LENGTH, &value) != napi_ok) value = NULL;
      else if (c->kind != CALL_REALPATH) value = kn_undefined(env);
      if (value != NULL) napi_resolve_deferred(env, c->deferred, value);
    }
    if (value == NULL) {  // N-API could not build the result: reject with what it says
      napi_value exc;
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (!pending || napi_get_and_clear_last_exception(env, &exc) != napi_ok) {
        napi_value msg;
        napi_create_string_utf8(env, "N-API could not build the result of a blocking call", NAPI_AUTO_LENGTH, &msg);
        napi_create_error(env, NULL, msg, &exc);
      }
      napi_reject_deferred(env, c->deferred, exc);
    }
  }
  call_free(c);
}

static void *call_thread(void *arg) {
  blocking_call *c = arg;
  run_call(c);
  // Read before queueing: once queued, settle() may free `c` at any moment.
  napi_threadsafe_function tsfn = c->tsfn;
  if (napi_call_threadsafe_function(tsfn, c, napi_tsfn_blocking) != napi_ok) call_free(c);  // env closing
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  return NULL;
}

// Starts `c` on its own thread and returns the Promise it settles; takes ownership of `c`.
static napi_value start_call(napi_env env, blocking_call *c, const char *name) {
  napi_value promise, resource_name;
  if (napi_create_promise(env, &c->deferred, &promise) != napi_ok) {
    call_free(c);
    kn_throw_napi_failure(env, "create a promise");
    return NULL;
  }
  // The threadsafe function holds the loop open while the call runs, as a pending fs request does.
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_create_threadsafe_function(env, NULL, NULL, resource_name, 0, 1, NULL, NULL, NULL, settle, &c->tsfn) != napi_ok) {
    napi_value err = kn_errno_error(env, ENOMEM, name, "%s: start", name);
    if (err != NULL) napi_reject_deferred(env, c->deferred, err);
    call_free(c);
    return promise;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 128 * 1024);  // the thread only makes one syscall
  // Every signal blocked on the new thread (it inherits this mask): signals are the JS thread's.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t thread;
  int rc = pthread_create(&thread, &attr, call_thread, c);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    napi_value err = kn_errno_error(env, rc, "pthread_create", "%s: start a thread", name);
    if (err != NULL) napi_reject_deferred(env, c->deferred, err);
    napi_release_threadsafe_function(c->tsfn, napi_tsfn_release);
    call_free(c);
  }
  return promise;
}

static blocking_call *new_call(napi_env env, call_kind kind) {
  blocking_call *c = calloc(1, sizeof *c);
  if (c == NULL) napi_throw_error(env, "ENOMEM", "out of memory");
  else c->kind = kind;
  return c;
}

// mountAsync(source | null, target, fstype | null, flags, data | null) -> Promise<void>
static napi_value mount_async(napi_env env, napi_callback_info info) {
  kn_args a;
  if (!kn_get_args(env, info, &a, 5, "mountAsync")) return NULL;
  blocking_call *c = new_call(env, CALL_MOUNT);
  if (c == NULL) return NULL;
  if (!kn_arg_string(env, a.argv[0], &c->source, true, "source") || !kn_arg_string(env, a.argv[1], &c->target, false, "target") ||
      !kn_arg_string(env, a.argv[2], &c->fstype, true, "fstype") || !kn_arg_int64(env, a.argv[3], &c->flags, "flags") ||
      !kn_arg_string(env, a.argv[4], &c->data, true, "data")) {
    call_free(c);
    return NULL;
  }
  return start_call(env, c, "mount");
}

// A call on one path with optional int flags: umount2Async(target, flags), swapOnAsync(path,
// flags), swapOffAsync(path), statfsAsync(path), statAsync(path).
static napi_value path_call(napi_env env, napi_callback_info info, call_kind kind, const char *fn, size_t required,
                            const char *syscall) {
  kn_args a;
  if (!kn_get_args(env, info, &a, required, fn)) return NULL;
  blocking_call *c = new_call(env, kind);
  if (c == NULL) return NULL;
  int32_t flags = 0;
  if (!kn_arg_string(env, a.argv[0], &c->target, false, "path") ||
      (required > 1 && !kn_arg_int32(env, a.argv[1], &flags, "flags"))) {
    call_free(c);
    return NULL;
  }
  c->flags = flags;
  return start_call(env, c, syscall);
}

static napi_value umount2_async(napi_env env, napi_callback_info info) {
  return path_call(env, info, CALL_UMOUNT2, "umount2Async", 2, "umount2");
}
static napi_value swap_on_async(napi_env env, napi_callback_info info) {
  return path_call(env, info, CALL_SWAPON, "swapOnAsync", 2, "swapon");
}
static napi_value swap_off_async(napi_env env, napi_callback_info info) {
  return path_call(env, info, CALL_SWAPOFF, "swapOffAsync", 1, "swapoff");
}
static napi_value statfs_async(napi_env env, napi_callback_info info) {
  return path_call(env, info, CALL_STATFS, "statfsAsync", 1, "statfs");
}
static napi_value stat_async(napi_env env, napi_callback_info info) {
  return path_call(env, info, CALL_STAT, "statAsync", 1, "stat");
}
// realpathAsync(path) -> Promise<string>: every symlink of the path resolved, as realpath(3).
static napi_value realpath_async(napi_env env, napi_callback_info info) {
  return path_call(env, info, CALL_REALPATH, "realpathAsync", 1, "realpath");
}

// syncAsync() -> Promise<void>
static napi_value sync_async(napi_env env, napi_callback_info info) {
  blocking_call *c = new_call(env, CALL_SYNC);
  return c == NULL ? NULL : start_call(env, c, "sync");
}

napi_status kn_init_blocking_calls(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"mountAsync", NULL, mount_async, NULL, NULL, NULL, napi_default, NULL},
      {"umount2Async", NULL, umount2_async, NULL, NULL, NULL, napi_default, NULL},
      {"syncAsync", NULL, sync_async, NULL, NULL, NULL, napi_default, NULL},
      {"swapOnAsync", NULL, swap_on_async, NULL, NULL, NULL, napi_default, NULL},
      {"swapOffAsync", NULL, swap_off_async, NULL, NULL, NULL, napi_default, NULL},
      {"statfsAsync", NULL, statfs_async, NULL, NULL, NULL, napi_default, NULL},
      {"statAsync", NULL, stat_async, NULL, NULL, NULL, napi_default, NULL},
      {"realpathAsync", NULL, realpath_async, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
