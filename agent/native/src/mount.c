// mount(2) on the JS thread, for PID 1's boot mounts only (every later mount or unmount goes
// through blocking_calls.c, off the JS thread), chroot(2), and the flag constants the agent composes.
#include <errno.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include "concerns.h"
#include "napi_helpers.h"

// mount(source | null, target, fstype | null, flags, data | null)
static napi_value mount_fn(napi_env env, napi_callback_info info) {
  kn_args a;
  char *source = NULL, *target = NULL, *fstype = NULL, *data = NULL;
  int64_t flags;
  napi_value result = NULL;
  if (!kn_get_args(env, info, &a, 5, "mount")) return NULL;
  if (kn_arg_string(env, a.argv[0], &source, true, "source") && kn_arg_string(env, a.argv[1], &target, false, "target") &&
      kn_arg_string(env, a.argv[2], &fstype, true, "fstype") && kn_arg_int64(env, a.argv[3], &flags, "flags") &&
      kn_arg_string(env, a.argv[4], &data, true, "data")) {
    if (mount(source, target, fstype, (unsigned long)flags, data) < 0) {
      int err = errno;
      if (fstype != NULL)
        kn_throw_errno(env, err, "mount", "mount %s %s at %s", fstype, source ? source : "none", target);
      else
        kn_throw_errno(env, err, "mount", "mount %s at %s", source ? source : "none", target);
    } else {
      result = kn_undefined(env);
    }
  }
  free(source);
  free(target);
  free(fstype);
  free(data);
  return result;
}

// chroot(path): the whole process's root (threads share it).
static napi_value chroot_fn(napi_env env, napi_callback_info info) {
  kn_args a;
  char *path = NULL;
  if (!kn_get_args(env, info, &a, 1, "chroot") || !kn_arg_string(env, a.argv[0], &path, false, "path")) return NULL;
  napi_value result = NULL;
  if (chroot(path) < 0) kn_throw_errno(env, errno, "chroot", "change root to %s", path);
  else result = kn_undefined(env);
  free(path);
  return result;
}

napi_status kn_init_mount(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"mount", NULL, mount_fn, NULL, NULL, NULL, napi_default, NULL},
      {"chroot", NULL, chroot_fn, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_status s = napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  if (s != napi_ok) return s;
  const kn_constant constants[] = {
      {"MS_RDONLY", MS_RDONLY},       {"MS_NOSUID", MS_NOSUID},     {"MS_NODEV", MS_NODEV},
      {"MS_NOEXEC", MS_NOEXEC},       {"MS_SYNCHRONOUS", MS_SYNCHRONOUS}, {"MS_REMOUNT", MS_REMOUNT},
      {"MS_MANDLOCK", MS_MANDLOCK},   {"MS_DIRSYNC", MS_DIRSYNC},   {"MS_NOSYMFOLLOW", 256},
      {"MS_NOATIME", MS_NOATIME},     {"MS_NODIRATIME", MS_NODIRATIME}, {"MS_BIND", MS_BIND},
      {"MS_MOVE", MS_MOVE},           {"MS_REC", MS_REC},           {"MS_SILENT", MS_SILENT},
      {"MS_UNBINDABLE", MS_UNBINDABLE}, {"MS_PRIVATE", MS_PRIVATE}, {"MS_SLAVE", MS_SLAVE},
      {"MS_SHARED", MS_SHARED},       {"MS_RELATIME", MS_RELATIME}, {"MS_STRICTATIME", MS_STRICTATIME},
      {"MS_LAZYTIME", MS_LAZYTIME},   {"MNT_FORCE", MNT_FORCE},     {"MNT_DETACH", MNT_DETACH},
      {"MNT_EXPIRE", MNT_EXPIRE},     {"UMOUNT_NOFOLLOW", UMOUNT_NOFOLLOW},
  };
  return kn_define_constants(env, exports, constants, sizeof constants / sizeof constants[0]);
}
