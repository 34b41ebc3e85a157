// Receiving an fd over a unix socket (SCM_RIGHTS): how crun's --console-socket hands over the
// pty master of a container's terminal. A listening unix socket, accept, recvmsg; and a peer's pid.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "concerns.h"
#include "napi_helpers.h"

// unixListen(path, backlog) -> listening fd (the path must not exist yet)
static napi_value unix_listen(napi_env env, napi_callback_info info) {
  kn_args a;
  char *path = NULL;
  int32_t backlog;
  if (!kn_get_args(env, info, &a, 2, "unixListen") || !kn_arg_int32(env, a.argv[1], &backlog, "backlog") ||
      !kn_arg_string(env, a.argv[0], &path, false, "path"))
    return NULL;
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof addr.sun_path) {
    kn_throw_errno(env, ENAMETOOLONG, "bind", "listen on unix socket %s", path);
    free(path);
    return NULL;
  }
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const char *failed = "socket";
  if (fd >= 0) {
    failed = "bind";
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
      failed = "listen";
      if (listen(fd, backlog) == 0) failed = NULL;
    }
  }
  if (failed != NULL) {
    int err = errno;
    if (fd >= 0) close(fd);
    kn_throw_errno(env, err, failed, "listen on unix socket %s", path);
    free(path);
    return NULL;
  }
  free(path);
  return kn_fd_result(env, fd, "unixListen result");
}

// unixAccept(listenFd) -> connected fd | null when none is pending
static napi_value unix_accept(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t lfd;
  if (!kn_get_args(env, info, &a, 1, "unixAccept") || !kn_arg_int32(env, a.argv[0], &lfd, "fd")) return NULL;
  int fd;
  do fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED) return kn_null(env);
    kn_throw_errno(env, errno, "accept4", "accept on unix socket fd %d", lfd);
    return NULL;
  }
  return kn_fd_result(env, fd, "unixAccept result");
}

// receiveFd(connFd) -> received fd | -1 when the peer closed without sending one
//                    | null when nothing has arrived yet.
// One fd is expected (crun sends one). A peer that sends more gets the first one taken and every
// other one closed: up to MAX_FDS arrive (the kernel installs what fits in our control buffer,
// closes the rest and sets MSG_CTRUNC), and none of them is left open in this process.
#define MAX_FDS 8
static napi_value receive_fd(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t cfd;
  if (!kn_get_args(env, info, &a, 1, "receiveFd") || !kn_arg_int32(env, a.argv[0], &cfd, "fd")) return NULL;
  char data[256];
  struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
  } control;
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  ssize_t n;
  do n = recvmsg(cfd, &msg, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return kn_null(env);
    kn_throw_errno(env, errno, "recvmsg", "receive fd on unix socket fd %d", cfd);
    return NULL;
  }
  int received = -1;
  const char *control_end = control.buf + msg.msg_controllen;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) continue;
    // The count the header claims, but never past the end of what recvmsg filled in.
    const char *fd_bytes = (const char *)CMSG_DATA(c);
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    size_t room = fd_bytes < control_end ? (size_t)(control_end - fd_bytes) / sizeof(int) : 0;
    if (count > room) count = room;
    for (size_t i = 0; i < count; i++) {
      int fd;
      memcpy(&fd, fd_bytes + i * sizeof(int), sizeof fd);  // CMSG_DATA need not be int-aligned
      if (received < 0) received = fd;
      else close(fd);
    }
  }
  if (received < 0 && (msg.msg_flags & MSG_CTRUNC)) {
    kn_throw_errno(env, EMSGSIZE, "recvmsg", "receive fd on unix socket fd %d (control data truncated)", cfd);
    return NULL;
  }
  if (received < 0 && n > 0) return kn_null(env);  // data without an fd; keep waiting
  if (received < 0) return kn_int(env, -1);
  return kn_fd_result(env, received, "receiveFd result");
}

// peerPid(connFd) -> the pid of the process that connected a unix socket (SO_PEERCRED): the host's
// remote-hypervisor service uses it to find the Kata shim whose mount namespace a VM must see.
static napi_value peer_pid(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t cfd;
  if (!kn_get_args(env, info, &a, 1, "peerPid") || !kn_arg_int32(env, a.argv[0], &cfd, "fd")) return NULL;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    kn_throw_errno(env, errno, "getsockopt", "SO_PEERCRED of unix socket fd %d", cfd);
    return NULL;
  }
  return kn_int(env, cred.pid);
}

napi_status kn_init_fd_passing(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"unixListen", NULL, unix_listen, NULL, NULL, NULL, napi_default, NULL},
      {"unixAccept", NULL, unix_accept, NULL, NULL, NULL, napi_default, NULL},
      {"receiveFd", NULL, receive_fd, NULL, NULL, NULL, napi_default, NULL},
      {"peerPid", NULL, peer_pid, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
