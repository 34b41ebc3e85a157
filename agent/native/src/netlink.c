// Netlink sockets (rtnetlink for interfaces, addresses, routes, neighbours). The messages are
// built and parsed in TypeScript; this only moves datagrams, non-blocking, one per call, so
// the socket can be driven by a uv_poll watch (see poll_watch.c).
#include <errno.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "concerns.h"
#include "napi_helpers.h"

// netlinkOpen(protocol, groups) -> fd, bound with a kernel-chosen port id.
static napi_value netlink_open(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t protocol;
  uint32_t groups = 0;
  if (!kn_get_args(env, info, &a, 1, "netlinkOpen") || !kn_arg_int32(env, a.argv[0], &protocol, "protocol")) return NULL;
  if (a.argc > 1 && !kn_arg_uint32(env, a.argv[1], &groups, "groups")) return NULL;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
  if (fd < 0) { kn_throw_errno(env, errno, "socket", "netlink socket protocol %d", protocol); return NULL; }
  struct sockaddr_nl addr = {.nl_family = AF_NETLINK, .nl_groups = groups};
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    int err = errno;
    close(fd);
    kn_throw_errno(env, err, "bind", "netlink bind protocol %d", protocol);
    return NULL;
  }
  return kn_fd_result(env, fd, "netlinkOpen result");
}

// netlinkSend(fd, buffer) -> bytes sent (to the kernel, port 0).
static napi_value netlink_send(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t fd;
  void *data;
  size_t len;
  if (!kn_get_args(env, info, &a, 2, "netlinkSend") || !kn_arg_int32(env, a.argv[0], &fd, "fd")) return NULL;
  NAPI_OK(env, napi_get_buffer_info(env, a.argv[1], &data, &len));
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t n;
  do n = sendto(fd, data, len, 0, (struct sockaddr *)&kernel, sizeof kernel);
  while (n < 0 && errno == EINTR);
  if (n < 0) { kn_throw_errno(env, errno, "sendto", "netlink send of %zu bytes", len); return NULL; }
  return kn_int(env, n);
}

// netlinkRecv(fd) -> Buffer with one datagram, or null when none is waiting.
static napi_value netlink_recv(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t fd;
  if (!kn_get_args(env, info, &a, 1, "netlinkRecv") || !kn_arg_int32(env, a.argv[0], &fd, "fd")) return NULL;
  ssize_t size;
  char probe;
  // MSG_PEEK|MSG_TRUNC tells the datagram's full length without consuming it.
  do size = recv(fd, &probe, 1, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
  while (size < 0 && errno == EINTR);
  if (size < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return kn_null(env);
    kn_throw_errno(env, errno, "recv", "netlink receive");
    return NULL;
  }
  void *data;
  napi_value buf;
  NAPI_OK(env, napi_create_buffer(env, size > 0 ? (size_t)size : 1, &data, &buf));
  ssize_t n;
  do n = recv(fd, data, size > 0 ? (size_t)size : 1, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return kn_null(env);
    kn_throw_errno(env, errno, "recv", "netlink receive");
    return NULL;
  }
  if ((size_t)n < (size_t)size) {
    napi_value slice;
    NAPI_OK(env, napi_create_buffer_copy(env, (size_t)n, data, NULL, &slice));
    return slice;
  }
  return buf;
}

napi_status kn_init_netlink(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"netlinkOpen", NULL, netlink_open, NULL, NULL, NULL, napi_default, NULL},
      {"netlinkSend", NULL, netlink_send, NULL, NULL, NULL, napi_default, NULL},
      {"netlinkRecv", NULL, netlink_recv, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_status s = napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  if (s != napi_ok) return s;
  const kn_constant constants[] = {{"NETLINK_ROUTE", NETLINK_ROUTE}};
  return kn_define_constants(env, exports, constants, sizeof constants / sizeof constants[0]);
}
