// Non-blocking reads and writes on an fd, called when poll_watch reports readiness.
// Together they are what a libuv stream does, for fds libuv's stream types refuse (AF_VSOCK).
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "concerns.h"
#include "napi_helpers.h"

// One scratch buffer per thread (each worker thread has its own loop); results are copied out at once.
static __thread char read_scratch[64 * 1024];

// readFd(fd, maxBytes) -> Buffer with data | null at end of stream | undefined when it would block.
static napi_value read_fd(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t fd;
  uint32_t max;
  if (!kn_get_args(env, info, &a, 2, "readFd") || !kn_arg_int32(env, a.argv[0], &fd, "fd") ||
      !kn_arg_uint32(env, a.argv[1], &max, "maxBytes"))
    return NULL;
  if (max == 0 || max > sizeof read_scratch) max = sizeof read_scratch;
  ssize_t n;
  do n = read(fd, read_scratch, max); while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return kn_undefined(env);
    kn_throw_errno(env, errno, "read", "read fd %d", fd);
    return NULL;
  }
  if (n == 0) return kn_null(env);
  napi_value buf;
  NAPI_OK(env, napi_create_buffer_copy(env, (size_t)n, read_scratch, NULL, &buf));
  return buf;
}

// writeFd(fd, buffer, offset) -> bytes written from offset (0 when it would block).
static napi_value write_fd(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t fd;
  uint32_t offset;
  if (!kn_get_args(env, info, &a, 3, "writeFd") || !kn_arg_int32(env, a.argv[0], &fd, "fd") ||
      !kn_arg_uint32(env, a.argv[2], &offset, "offset"))
    return NULL;
  void *data;
  size_t len;
  if (napi_get_buffer_info(env, a.argv[1], &data, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "writeFd: buffer must be a Buffer");
    return NULL;
  }
  if (offset >= len) return kn_int(env, 0);
  ssize_t n;
  do n = write(fd, (char *)data + offset, len - offset); while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return kn_int(env, 0);
    kn_throw_errno(env, errno, "write", "write fd %d", fd);
    return NULL;
  }
  return kn_int(env, n);
}

// shutdownWrite(fd): half-close a socket (end of our stream); a no-op on non-sockets.
static napi_value shutdown_write(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t fd;
  if (!kn_get_args(env, info, &a, 1, "shutdownWrite") || !kn_arg_int32(env, a.argv[0], &fd, "fd")) return NULL;
  if (shutdown(fd, SHUT_WR) < 0 && errno != ENOTSOCK && errno != ENOTCONN) {
    kn_throw_errno(env, errno, "shutdown", "shutdown fd %d", fd);
    return NULL;
  }
  return kn_undefined(env);
}

// closeFd(fd)
static napi_value close_fd(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t fd;
  if (!kn_get_args(env, info, &a, 1, "closeFd") || !kn_arg_int32(env, a.argv[0], &fd, "fd")) return NULL;
  // Linux releases the fd even when close() reports EINTR, so never retry.
  if (close(fd) < 0 && errno != EINTR) {
    kn_throw_errno(env, errno, "close", "close fd %d", fd);
    return NULL;
  }
  return kn_undefined(env);
}

// setNonBlocking(fd): also sets close-on-exec, so fds we hold never leak into spawned processes.
static napi_value set_non_blocking(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t fd;
  if (!kn_get_args(env, info, &a, 1, "setNonBlocking") || !kn_arg_int32(env, a.argv[0], &fd, "fd")) return NULL;
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
    kn_throw_errno(env, errno, "fcntl", "set fd %d non-blocking", fd);
    return NULL;
  }
  return kn_undefined(env);
}

// pollFd(fd) -> revents of a poll() that does not wait (POLLIN, POLLOUT, POLLHUP...).
static napi_value poll_fd(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t fd;
  if (!kn_get_args(env, info, &a, 1, "pollFd") || !kn_arg_int32(env, a.argv[0], &fd, "fd")) return NULL;
  struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};
  int n;
  do n = poll(&p, 1, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) { kn_throw_errno(env, errno, "poll", "poll fd %d", fd); return NULL; }
  return kn_int(env, n == 0 ? 0 : p.revents);
}

// setAsyncSignal(fd, on): O_ASYNC with this process as owner, so the driver sends SIGIO when the
// fd's state changes (a virtio-serial port does when the host opens or closes its end).
static napi_value set_async_signal(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t fd, on;
  if (!kn_get_args(env, info, &a, 2, "setAsyncSignal") || !kn_arg_int32(env, a.argv[0], &fd, "fd") ||
      !kn_arg_int32(env, a.argv[1], &on, "on"))
    return NULL;
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || (on && fcntl(fd, F_SETOWN, getpid()) < 0) ||
      fcntl(fd, F_SETFL, on ? flags | O_ASYNC : flags & ~O_ASYNC) < 0) {
    kn_throw_errno(env, errno, "fcntl", "%s SIGIO on fd %d", on ? "enable" : "disable", fd);
    return NULL;
  }
  return kn_undefined(env);
}

napi_status kn_init_fd_io(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"readFd", NULL, read_fd, NULL, NULL, NULL, napi_default, NULL},
      {"writeFd", NULL, write_fd, NULL, NULL, NULL, napi_default, NULL},
      {"shutdownWrite", NULL, shutdown_write, NULL, NULL, NULL, napi_default, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL},
      {"setNonBlocking", NULL, set_non_blocking, NULL, NULL, NULL, napi_default, NULL},
      {"pollFd", NULL, poll_fd, NULL, NULL, NULL, napi_default, NULL},
      {"setAsyncSignal", NULL, set_async_signal, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_status s = napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  if (s != napi_ok) return s;
  const kn_constant constants[] = {{"POLLHUP", POLLHUP}};
  return kn_define_constants(env, exports, constants, sizeof constants / sizeof constants[0]);
}
