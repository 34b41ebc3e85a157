// Exit status of a process the agent did not spawn with child_process (crun's container init,
// reparented to us): pidfd_open gives an fd that turns readable when the process exits, which
// poll_watch reports; waitid(P_PIDFD) then collects (reaps) the status.
#include <errno.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "concerns.h"
#include "exit_status.h"
#include "napi_helpers.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

napi_value kn_exit_status(napi_env env, const siginfo_t *si) {
  napi_value r;
  if (napi_create_object(env, &r) != napi_ok || !kn_set_int(env, r, "pid", si->si_pid)) return NULL;
  // CLD_KILLED or CLD_DUMPED otherwise
  if (!kn_set_int(env, r, si->si_code == CLD_EXITED ? "code" : "signal", si->si_status)) return NULL;
  return r;
}

// pidfdOpen(pid) -> pidfd (close-on-exec)
static napi_value pidfd_open_fn(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t pid;
  if (!kn_get_args(env, info, &a, 1, "pidfdOpen") || !kn_arg_int32(env, a.argv[0], &pid, "pid")) return NULL;
  long fd = syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (fd < 0) { kn_throw_errno(env, errno, "pidfd_open", "watch exit of pid %d", pid); return NULL; }
  return kn_fd_result(env, (int)fd, "pidfdOpen result");
}

// pidfdWaitExit(pidfd, pid) -> { pid, code } | { pid, signal } | null while it still runs.
// Reaps the process: call only for processes no one else waits for.
static napi_value pidfd_wait_exit(napi_env env, napi_callback_info info) {
  kn_args a;
  int32_t pidfd, pid;
  if (!kn_get_args(env, info, &a, 2, "pidfdWaitExit") || !kn_arg_int32(env, a.argv[0], &pidfd, "pidfd") ||
      !kn_arg_int32(env, a.argv[1], &pid, "pid"))
    return NULL;
  // Peek first (WNOWAIT), reap only once the status is a JS value: a status reaped and then lost
  // to a failed N-API call could never be had again.
  siginfo_t si;
  si.si_pid = 0;
  int rc;
  do rc = waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG | WNOWAIT); while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    // ECHILD: not our child (its parent is still alive and will reap it), or already reaped.
    kn_throw_errno(env, errno, "waitid", "wait for exit of pid %d", pid);
    return NULL;
  }
  if (si.si_pid == 0) return kn_null(env);
  napi_value status = kn_exit_status(env, &si);
  if (status == NULL) {
    kn_throw_napi_failure(env, "pidfdWaitExit result");
    return NULL;
  }
  do rc = waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG); while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    kn_throw_errno(env, errno, "waitid", "wait for exit of pid %d", pid);
    return NULL;
  }
  return status;
}

napi_status kn_init_process_exit(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"pidfdOpen", NULL, pidfd_open_fn, NULL, NULL, NULL, napi_default, NULL},
      {"pidfdWaitExit", NULL, pidfd_wait_exit, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
