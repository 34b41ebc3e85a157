// AF_VSOCK sockets: listen, accept (with the peer's CID and port, so the agent can refuse
// guest-local peers), and non-blocking connect. All fds are non-blocking and close-on-exec;
// readiness comes from poll_watch, data moves through fd_io.
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "concerns.h"
#include "napi_helpers.h"

static bool arg_cid_port(napi_env env, kn_args *a, unsigned *cid, unsigned *port) {
  int64_t c, p;
  if (!kn_arg_int64(env, a->argv[0], &c, "cid") || !kn_arg_int64(env, a->argv[1], &p, "port")) return false;
  *cid = (unsigned)(uint32_t)c;  // -1 means VMADDR_CID_ANY, as in Kata's vsock://-1:1024
  *port = (unsigned)(uint32_t)p;
  return true;
}

static struct sockaddr_vm vsock_addr(unsigned cid, unsigned port) {
  struct sockaddr_vm addr;
  memset(&addr, 0, sizeof addr);
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = cid;
  addr.svm_port = port;
  return addr;
}

static int vsock_socket(napi_env env, const char *op, unsigned cid, unsigned port) {
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int err = errno;
    if (err == EAFNOSUPPORT || err == ENODEV || err == EPROTONOSUPPORT)
      kn_throw_errno(env, err, "socket", "vsock %s cid %d port %u (no AF_VSOCK support in this kernel)", op,
                     (int)cid, port);
    else
      kn_throw_errno(env, err, "socket", "vsock %s cid %d port %u", op, (int)cid, port);
  }
  return fd;
}

// vsockListen(cid, port, backlog) -> listening fd
static napi_value vsock_listen(napi_env env, napi_callback_info info) {
  kn_args a;
  unsigned cid, port;
  int32_t backlog;
  if (!kn_get_args(env, info, &a, 3, "vsockListen") || !arg_cid_port(env, &a, &cid, &port) ||
      !kn_arg_int32(env, a.argv[2], &backlog, "backlog"))
    return NULL;
  int fd = vsock_socket(env, "listen", cid, port);
  if (fd < 0) return NULL;
  struct sockaddr_vm addr = vsock_addr(cid, port);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    int err = errno;
    close(fd);
    kn_throw_errno(env, err, "bind", "vsock listen cid %d port %u", (int)cid, port);
    return NULL;
  }
  if (listen(fd, backlog) < 0) {
    int err = errno;
    close(fd);
    kn_throw_errno(env, err, "listen", "vsock listen cid %d port %u", (int)cid, port);
    return NULL;
  }
  return kn_fd_result(env, fd, "vsockListen result");
}

// vsockAccept(listenFd) -> { fd, cid, port } | null when no connection is pending
static napi_value vsock_accept(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t lfd;
  if (!kn_get_args(env, info, &a, 1, "vsockAccept") || !kn_arg_int32(env, a.argv[0], &lfd, "fd")) return NULL;
  struct sockaddr_vm peer;
  socklen_t len = sizeof peer;
  int fd;
  do fd = accept4(lfd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    // ECONNABORTED: the peer gave up before we got to it; nothing to hand out.
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED) return kn_null(env);
    kn_throw_errno(env, errno, "accept4", "vsock accept on fd %d", lfd);
    return NULL;
  }
  napi_value r;
  if (napi_create_object(env, &r) != napi_ok || !kn_set_int(env, r, "fd", fd) || !kn_set_int(env, r, "cid", peer.svm_cid) ||
      !kn_set_int(env, r, "port", peer.svm_port)) {
    close(fd);  // the caller never learns it
    kn_throw_napi_failure(env, "vsockAccept result");
    return NULL;
  }
  return r;
}

// vsockConnect(cid, port) -> { fd, pending }: pending means wait for writability, then
// call vsockConnectResult.
static napi_value vsock_connect(napi_env env, napi_callback_info info) {
  kn_args a;
  unsigned cid, port;
  if (!kn_get_args(env, info, &a, 2, "vsockConnect") || !arg_cid_port(env, &a, &cid, &port)) return NULL;
  int fd = vsock_socket(env, "connect", cid, port);
  if (fd < 0) return NULL;
  struct sockaddr_vm addr = vsock_addr(cid, port);
  int rc;
  do rc = connect(fd, (struct sockaddr *)&addr, sizeof addr); while (rc < 0 && errno == EINTR);
  bool pending = false;
  if (rc < 0) {
    if (errno == EINPROGRESS) {
      pending = true;
    } else {
      int err = errno;
      close(fd);
      kn_throw_errno(env, err, "connect", "vsock connect cid %d port %u", (int)cid, port);
      return NULL;
    }
  }
  napi_value r, p;
  if (napi_create_object(env, &r) != napi_ok || !kn_set_int(env, r, "fd", fd) || napi_get_boolean(env, pending, &p) != napi_ok ||
      napi_set_named_property(env, r, "pending", p) != napi_ok) {
    close(fd);  // the caller never learns it
    kn_throw_napi_failure(env, "vsockConnect result");
    return NULL;
  }
  return r;
}

// vsockConnectResult(fd, cid, port): throws the connect error, if the connect failed.
static napi_value vsock_connect_result(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t fd;
  if (!kn_get_args(env, info, &a, 3, "vsockConnectResult") || !kn_arg_int32(env, a.argv[0], &fd, "fd")) return NULL;
  a.argv[0] = a.argv[1];
  a.argv[1] = a.argv[2];
  unsigned cid, port;
  if (!arg_cid_port(env, &a, &cid, &port)) return NULL;
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err != 0) {
    kn_throw_errno(env, err, "connect", "vsock connect cid %d port %u", (int)cid, port);
    return NULL;
  }
  return kn_undefined(env);
}

// vsockLocalCid() -> this machine's CID (e.g. 3 for a guest), from /dev/vsock.
static napi_value vsock_local_cid(napi_env env, napi_callback_info info) {
  int fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
  if (fd < 0) { kn_throw_errno(env, errno, "open", "vsock local cid: open /dev/vsock"); return NULL; }
  unsigned cid = 0;
  int rc = ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid);
  int err = errno;
  close(fd);
  if (rc < 0) { kn_throw_errno(env, err, "ioctl", "vsock local cid: IOCTL_VM_SOCKETS_GET_LOCAL_CID"); return NULL; }
  return kn_int(env, cid);
}

napi_status kn_init_vsock(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"vsockListen", NULL, vsock_listen, NULL, NULL, NULL, napi_default, NULL},
      {"vsockAccept", NULL, vsock_accept, NULL, NULL, NULL, napi_default, NULL},
      {"vsockConnect", NULL, vsock_connect, NULL, NULL, NULL, napi_default, NULL},
      {"vsockConnectResult", NULL, vsock_connect_result, NULL, NULL, NULL, napi_default, NULL},
      {"vsockLocalCid", NULL, vsock_local_cid, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_status s = napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  if (s != napi_ok) return s;
  const kn_constant constants[] = {
      {"VMADDR_CID_ANY", VMADDR_CID_ANY}, {"VMADDR_CID_HYPERVISOR", VMADDR_CID_HYPERVISOR},
      {"VMADDR_CID_LOCAL", 1},            {"VMADDR_CID_HOST", VMADDR_CID_HOST},
  };
  return kn_define_constants(env, exports, constants, sizeof constants / sizeof constants[0]);
}
