// fd-relative file calls for writing into a directory an untrusted party can also change (CopyFile
// into a container's rootfs under the shared directory). Every name is resolved relative to a
// directory fd the caller already holds, never by a path from /, so a component swapped for a
// symlink between a check and a use cannot redirect the write: openat2(2) with RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS refuses any symlink or ".." escape (ELOOP, EXDEV).
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "concerns.h"
#include "napi_helpers.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

static const uint64_t RESOLVE_FLAGS = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

// openat with O_NOFOLLOW, where a symlink opened with O_DIRECTORY is ENOTDIR: reported as
// ELOOP, as openat2 with RESOLVE_NO_SYMLINKS does.
static int openat_nofollow(int dirfd, const char *name, int flags, mode_t mode) {
  int fd;
  do fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode); while (fd < 0 && errno == EINTR);
  struct stat st;
  if (fd < 0 && errno == ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) errno = ELOOP;
  return fd;
}

// Set once a kernel without openat2 (before 5.6) has said so, to skip the failing call afterwards.
static int openat2_missing = 0;

// The same confinement without openat2: one openat per component, each O_NOFOLLOW (a symlink is
// ELOOP), directories O_DIRECTORY; ".." is refused as RESOLVE_BENEATH would (EXDEV). Returns an fd
// or -1 with errno set.
static int open_walk(int dirfd, const char *path, int flags, mode_t mode) {
  if (path[0] == '/' || path[0] == '\0') {
    errno = EXDEV;
    return -1;
  }
  char *copy = strdup(path);
  if (copy == NULL) return -1;
  int cur = dirfd;
  char *save = NULL;
  char *part = strtok_r(copy, "/", &save);
  int fd = -1;
  while (part != NULL) {
    char *next = strtok_r(NULL, "/", &save);
    if (strcmp(part, "..") == 0) {
      errno = EXDEV;
      break;
    }
    if (next == NULL) {
      fd = openat_nofollow(cur, part, flags, mode);
      break;
    }
    if (strcmp(part, ".") != 0) {
      int sub = openat_nofollow(cur, part, O_RDONLY | O_DIRECTORY, 0);
      if (sub < 0) break;
      if (cur != dirfd) close(cur);
      cur = sub;
    }
    part = next;
  }
  int err = errno;
  if (cur != dirfd) close(cur);
  free(copy);
  errno = err;
  return fd;
}

static int open_beneath_fd(int dirfd, const char *path, int flags, mode_t mode, bool walk) {
  if (!walk && !openat2_missing) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    // RESOLVE_NO_SYMLINKS makes every symlink ELOOP, the last one included. O_NOFOLLOW only where
    // it changes nothing: with O_DIRECTORY it would turn a trailing symlink into ENOTDIR.
    how.flags = (uint64_t)(flags | O_CLOEXEC | ((flags & O_DIRECTORY) ? 0 : O_NOFOLLOW));
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;  // openat2 refuses a mode it will not use
    how.resolve = RESOLVE_FLAGS;
    long fd;
    do fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how); while (fd < 0 && errno == EINTR);
    if (fd >= 0 || errno != ENOSYS) return (int)fd;
    openat2_missing = 1;
  }
  return open_walk(dirfd, path, flags, mode);
}

// openBeneath(dirfd, path, flags, mode, walk?) -> fd: `path` (relative) opened beneath `dirfd`,
// no symlink followed anywhere, the last component included (ELOOP); O_CLOEXEC always added. `walk` forces the
// per-component fallback used where openat2 is missing, so that tests exercise it too.
static napi_value open_beneath(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t dirfd, flags;
  uint32_t mode;
  char *path = NULL;
  if (!kn_get_args(env, info, &a, 4, "openBeneath") || !kn_arg_int32(env, a.argv[0], &dirfd, "dirfd") ||
      !kn_arg_int32(env, a.argv[2], &flags, "flags") || !kn_arg_uint32(env, a.argv[3], &mode, "mode") ||
      !kn_arg_string(env, a.argv[1], &path, false, "path"))
    return NULL;
  bool walk = false;
  napi_valuetype t = napi_undefined;
  if (a.argc > 4 && napi_typeof(env, a.argv[4], &t) == napi_ok && t == napi_boolean) napi_get_value_bool(env, a.argv[4], &walk);
  int fd = open_beneath_fd(dirfd, path, flags, (mode_t)mode, walk);
  if (fd < 0) kn_throw_errno(env, errno, walk || openat2_missing ? "openat" : "openat2", "open %s beneath fd %d", path, dirfd);
  free(path);
  return fd < 0 ? NULL : kn_fd_result(env, fd, "openBeneath result");
}

// mkdirAt(dirfd, name, mode)
static napi_value mkdir_at(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t dirfd;
  uint32_t mode;
  char *name = NULL;
  if (!kn_get_args(env, info, &a, 3, "mkdirAt") || !kn_arg_int32(env, a.argv[0], &dirfd, "dirfd") ||
      !kn_arg_uint32(env, a.argv[2], &mode, "mode") || !kn_arg_string(env, a.argv[1], &name, false, "name"))
    return NULL;
  int rc = mkdirat(dirfd, name, (mode_t)mode);
  if (rc < 0) kn_throw_errno(env, errno, "mkdirat", "mkdir %s beneath fd %d", name, dirfd);
  free(name);
  return rc < 0 ? NULL : kn_undefined(env);
}

// fchmod(fd, mode)
static napi_value fchmod_fd(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t fd;
  uint32_t mode;
  if (!kn_get_args(env, info, &a, 2, "fchmod") || !kn_arg_int32(env, a.argv[0], &fd, "fd") ||
      !kn_arg_uint32(env, a.argv[1], &mode, "mode"))
    return NULL;
  if (fchmod(fd, (mode_t)mode) < 0) {
    kn_throw_errno(env, errno, "fchmod", "chmod fd %d to %o", fd, mode);
    return NULL;
  }
  return kn_undefined(env);
}

// fchown(fd, uid, gid): -1 leaves that id as it is.
static napi_value fchown_fd(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t fd;
  int64_t uid, gid;
  if (!kn_get_args(env, info, &a, 3, "fchown") || !kn_arg_int32(env, a.argv[0], &fd, "fd") ||
      !kn_arg_int64(env, a.argv[1], &uid, "uid") || !kn_arg_int64(env, a.argv[2], &gid, "gid"))
    return NULL;
  if (uid < -1 || uid > 0xfffffffeLL || gid < -1 || gid > 0xfffffffeLL) {
    kn_throw_errno(env, EINVAL, "fchown", "chown fd %d to %lld:%lld", fd, (long long)uid, (long long)gid);
    return NULL;
  }
  if (fchown(fd, (uid_t)uid, (gid_t)gid) < 0) {
    kn_throw_errno(env, errno, "fchown", "chown fd %d to %lld:%lld", fd, (long long)uid, (long long)gid);
    return NULL;
  }
  return kn_undefined(env);
}

// renameAt(dirfd, from, to): both names in the same directory.
static napi_value rename_at(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t dirfd;
  char *from = NULL, *to = NULL;
  if (!kn_get_args(env, info, &a, 3, "renameAt") || !kn_arg_int32(env, a.argv[0], &dirfd, "dirfd") ||
      !kn_arg_string(env, a.argv[1], &from, false, "from"))
    return NULL;
  if (!kn_arg_string(env, a.argv[2], &to, false, "to")) {
    free(from);
    return NULL;
  }
  int rc = renameat(dirfd, from, dirfd, to);
  if (rc < 0) kn_throw_errno(env, errno, "renameat", "rename %s to %s beneath fd %d", from, to, dirfd);
  free(from);
  free(to);
  return rc < 0 ? NULL : kn_undefined(env);
}

// unlinkAt(dirfd, name, flags): flags 0 or AT_REMOVEDIR.
static napi_value unlink_at(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t dirfd, flags;
  char *name = NULL;
  if (!kn_get_args(env, info, &a, 3, "unlinkAt") || !kn_arg_int32(env, a.argv[0], &dirfd, "dirfd") ||
      !kn_arg_int32(env, a.argv[2], &flags, "flags") || !kn_arg_string(env, a.argv[1], &name, false, "name"))
    return NULL;
  int rc = unlinkat(dirfd, name, flags);
  if (rc < 0) kn_throw_errno(env, errno, "unlinkat", "remove %s beneath fd %d", name, dirfd);
  free(name);
  return rc < 0 ? NULL : kn_undefined(env);
}

// symlinkAt(target, dirfd, name): the link's text is stored as given, never resolved here.
static napi_value symlink_at(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t dirfd;
  char *target = NULL, *name = NULL;
  if (!kn_get_args(env, info, &a, 3, "symlinkAt") || !kn_arg_int32(env, a.argv[1], &dirfd, "dirfd") ||
      !kn_arg_string(env, a.argv[0], &target, false, "target"))
    return NULL;
  if (!kn_arg_string(env, a.argv[2], &name, false, "name")) {
    free(target);
    return NULL;
  }
  int rc = symlinkat(target, dirfd, name);
  if (rc < 0) kn_throw_errno(env, errno, "symlinkat", "symlink %s -> %s beneath fd %d", name, target, dirfd);
  free(target);
  free(name);
  return rc < 0 ? NULL : kn_undefined(env);
}

napi_status kn_init_beneath(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"openBeneath", NULL, open_beneath, NULL, NULL, NULL, napi_default, NULL},
      {"mkdirAt", NULL, mkdir_at, NULL, NULL, NULL, napi_default, NULL},
      {"fchmod", NULL, fchmod_fd, NULL, NULL, NULL, napi_default, NULL},
      {"fchown", NULL, fchown_fd, NULL, NULL, NULL, napi_default, NULL},
      {"renameAt", NULL, rename_at, NULL, NULL, NULL, napi_default, NULL},
      {"unlinkAt", NULL, unlink_at, NULL, NULL, NULL, napi_default, NULL},
      {"symlinkAt", NULL, symlink_at, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
