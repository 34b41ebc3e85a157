// Guest-wide operations the Kata API asks for that Node has no call for: the clock
// (SetGuestDateTime), the entropy pool (ReseedRandomDev), swap flags (AddSwap; swapon itself, which
// can wait on a stalled share, is in blocking_calls.c) and pipe sizes (agent.container_pipe_size).
#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/swap.h>
#include <sys/time.h>
#include <unistd.h>

#include "concerns.h"
#include "napi_helpers.h"

// setTimeOfDay(seconds, microseconds)
static napi_value set_time_of_day(napi_env env, napi_callback_info info) {
  kn_args a;
  int64_t sec, usec;
  if (!kn_get_args(env, info, &a, 2, "setTimeOfDay") || !kn_arg_int64(env, a.argv[0], &sec, "seconds") ||
      !kn_arg_int64(env, a.argv[1], &usec, "microseconds"))
    return NULL;
  struct timeval tv = {.tv_sec = (time_t)sec, .tv_usec = (suseconds_t)usec};
  if (settimeofday(&tv, NULL) < 0) {
    kn_throw_errno(env, errno, "settimeofday", "set the clock to %lld.%06lld", (long long)sec, (long long)usec);
    return NULL;
  }
  return kn_undefined(env);
}

// addEntropy(devicePath, data): credits `data` to the pool (RNDADDENTROPY, 8 bits per byte)
// and asks the kernel to reseed its CRNG from it (RNDRESEEDCRNG, where the kernel has it).
static napi_value add_entropy(napi_env env, napi_callback_info info) {
  kn_args a;
  char *path = NULL;
  void *data;
  size_t len;
  if (!kn_get_args(env, info, &a, 2, "addEntropy") || !kn_arg_string(env, a.argv[0], &path, false, "path")) return NULL;
  if (napi_get_buffer_info(env, a.argv[1], &data, &len) != napi_ok) {
    free(path);
    kn_throw_napi_failure(env, "addEntropy data");
    return NULL;
  }
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) { kn_throw_errno(env, errno, "open", "open %s", path); free(path); return NULL; }
  struct rand_pool_info *pool = malloc(sizeof *pool + len);
  if (!pool) { close(fd); free(path); kn_throw_errno(env, ENOMEM, "malloc", "entropy buffer"); return NULL; }
  pool->entropy_count = (int)(len * 8);
  pool->buf_size = (int)len;
  memcpy(pool->buf, data, len);
  int rc = ioctl(fd, RNDADDENTROPY, pool);
  int err = errno;
  free(pool);
  if (rc < 0) { close(fd); kn_throw_errno(env, err, "ioctl", "RNDADDENTROPY on %s", path); free(path); return NULL; }
#ifdef RNDRESEEDCRNG
  if (ioctl(fd, RNDRESEEDCRNG, NULL) < 0 && errno != EINVAL && errno != ENOTTY) {
    err = errno;
    close(fd);
    kn_throw_errno(env, err, "ioctl", "RNDRESEEDCRNG on %s", path);
    free(path);
    return NULL;
  }
#endif
  close(fd);
  free(path);
  return kn_undefined(env);
}

// setPipeSize(fd, bytes) -> the size the kernel granted (F_SETPIPE_SZ rounds up).
static napi_value set_pipe_size(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t fd, size;
  if (!kn_get_args(env, info, &a, 2, "setPipeSize") || !kn_arg_int32(env, a.argv[0], &fd, "fd") ||
      !kn_arg_int32(env, a.argv[1], &size, "size"))
    return NULL;
  int got = fcntl(fd, F_SETPIPE_SZ, size);
  if (got < 0) { kn_throw_errno(env, errno, "fcntl", "F_SETPIPE_SZ %d on fd %d", size, fd); return NULL; }
  return kn_int(env, got);
}

// getPipeSize(fd) -> the pipe's capacity in bytes (F_GETPIPE_SZ).
static napi_value get_pipe_size(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t fd;
  if (!kn_get_args(env, info, &a, 1, "getPipeSize") || !kn_arg_int32(env, a.argv[0], &fd, "fd")) return NULL;
  int got = fcntl(fd, F_GETPIPE_SZ);
  if (got < 0) { kn_throw_errno(env, errno, "fcntl", "F_GETPIPE_SZ on fd %d", fd); return NULL; }
  return kn_int(env, got);
}

// createPipe() -> {read, write}: a close-on-exec pipe, so container stdio are real pipes whose
// size agent.container_pipe_size can set (libuv's 'pipe' stdio are socket pairs).
static napi_value create_pipe(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) { kn_throw_errno(env, errno, "pipe2", "create a pipe"); return NULL; }
  napi_value obj;
  if (napi_create_object(env, &obj) != napi_ok || !kn_set_int(env, obj, "read", fds[0]) || !kn_set_int(env, obj, "write", fds[1])) {
    close(fds[0]);
    close(fds[1]);
    kn_throw_napi_failure(env, "createPipe result");
    return NULL;
  }
  return obj;
}

napi_status kn_init_guest_ops(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"setTimeOfDay", NULL, set_time_of_day, NULL, NULL, NULL, napi_default, NULL},
      {"addEntropy", NULL, add_entropy, NULL, NULL, NULL, napi_default, NULL},
      {"setPipeSize", NULL, set_pipe_size, NULL, NULL, NULL, napi_default, NULL},
      {"getPipeSize", NULL, get_pipe_size, NULL, NULL, NULL, napi_default, NULL},
      {"createPipe", NULL, create_pipe, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_status s = napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  if (s != napi_ok) return s;
  const kn_constant constants[] = {{"SWAP_FLAG_PREFER", SWAP_FLAG_PREFER}, {"SWAP_FLAG_DISCARD", SWAP_FLAG_DISCARD}};
  return kn_define_constants(env, exports, constants, sizeof constants / sizeof constants[0]);
}
