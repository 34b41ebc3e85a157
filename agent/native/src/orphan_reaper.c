// Reaping orphans as PID 1 (or as a child subreaper when another init runs us).
//
// Why not waitpid(-1): that would steal exit statuses that belong to someone else:
//   - Node's child_process children: libuv reaps each of its own pids with waitpid(pid) on
//     SIGCHLD; if we took the status first, the 'exit' event would never fire.
//   - processes the agent watches through a pidfd (process_exit.c) and node-pty's children
//     (node-pty waits for its pid in a thread): their owners must get the status.
// So a reap pass:
//   1. lists our children that are zombies or not (from /proc/self/task/*/children when the
//      kernel has CONFIG_PROC_CHILDREN, else by scanning /proc/<pid>/stat for our pid as ppid);
//   2. skips every pid libuv is waiting for (found by walking the loop's UV_PROCESS handles, so
//      no code has to remember to register child_process children) and every pid the caller
//      passes as owned (pidfd watches, node-pty);
//   3. reaps each remaining pid with waitid(P_PID, pid, WEXITED | WNOHANG), which returns at once
//      for one still running (after a WNOWAIT peek, so a status is reaped only once it is in the
//      result).
// A pass that cannot hold the pids of step 2 (out of memory) throws ENOMEM and reaps nothing:
// it could not tell whose status it would be taking.
// Everything runs on the JS thread, the same thread where child_process spawns, so a pid can't
// be spawned by libuv between steps 2 and 3. Without /proc (before the agent mounts it) it falls
// back to peeking with waitid(P_ALL, WNOWAIT): it reaps unknown zombies until the first zombie
// that belongs to someone else, which hides the rest until its owner reaps it.
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "concerns.h"
#include "exit_status.h"
#include "napi_helpers.h"

// A list that could not grow sets `failed` and stays as it was: a list of pids to leave alone
// that is missing one would let a pass take that pid's status, so such a pass reaps nothing.
typedef struct {
  pid_t *pids;
  size_t len, cap;
  bool failed;
} pid_list;

// Set by testOnlyFailPidListAllocations: that many coming allocations fail as if out of memory.
static uint32_t allocations_to_fail;

static bool pid_list_add(pid_list *l, pid_t pid) {
  if (l->len == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 32;
    pid_t *p = NULL;
    if (allocations_to_fail > 0) allocations_to_fail--;
    else p = realloc(l->pids, cap * sizeof *p);
    if (p == NULL) {
      l->failed = true;
      return false;
    }
    l->pids = p;
    l->cap = cap;
  }
  l->pids[l->len++] = pid;
  return true;
}

static bool pid_list_has(const pid_list *l, pid_t pid) {
  for (size_t i = 0; i < l->len; i++)
    if (l->pids[i] == pid) return true;
  return false;
}

static void add_libuv_child(uv_handle_t *h, void *arg) {
  if (uv_handle_get_type(h) == UV_PROCESS) pid_list_add((pid_list *)arg, uv_process_get_pid((uv_process_t *)h));
}

static bool is_pid_name(const char *s) {
  if (*s == '\0') return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return false;
  return true;
}

// Children via /proc/self/task/<tid>/children; false when the kernel lacks that file.
static bool list_children_from_task_files(pid_list *out) {
  DIR *tasks = opendir("/proc/self/task");
  if (tasks == NULL) return false;
  bool found_any_file = false;
  struct dirent *t;
  while ((t = readdir(tasks)) != NULL) {
    if (!is_pid_name(t->d_name)) continue;
    char path[300];
    snprintf(path, sizeof path, "/proc/self/task/%s/children", t->d_name);
    FILE *f = fopen(path, "re");
    if (f == NULL) continue;
    found_any_file = true;
    int pid;
    while (fscanf(f, "%d", &pid) == 1) pid_list_add(out, pid);
    fclose(f);
  }
  closedir(tasks);
  return found_any_file;
}

// Children by scanning every /proc/<pid>/stat for our pid as parent; false without /proc.
static bool list_children_from_stat(pid_list *out) {
  DIR *proc = opendir("/proc");
  if (proc == NULL) return false;
  pid_t self = getpid();
  bool saw_self = false;
  struct dirent *e;
  while ((e = readdir(proc)) != NULL) {
    if (!is_pid_name(e->d_name)) continue;
    char path[300], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    FILE *f = fopen(path, "re");
    if (f == NULL) continue;  // exited meanwhile
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    // "pid (comm) state ppid ...": comm may hold spaces and ')', so parse after the last ')'.
    char *close_paren = strrchr(buf, ')');
    char state;
    int ppid;
    if (close_paren == NULL || sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2) continue;
    int pid = atoi(e->d_name);
    if (pid == self) saw_self = true;
    if (ppid == self) pid_list_add(out, pid);
  }
  closedir(proc);
  return saw_self;  // a /proc of another pid namespace would not show us
}

// Peeks first (WNOWAIT) and reaps only once the status is in `results`: a status reaped and then
// lost to a failed N-API call would be gone for good.
static bool reap_one(napi_env env, napi_value results, uint32_t *count, pid_t pid) {
  siginfo_t si;
  si.si_pid = 0;
  int rc;
  do rc = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT); while (rc < 0 && errno == EINTR);
  if (rc < 0 || si.si_pid == 0) return false;  // still running, or reaped by its owner meanwhile
  napi_value status = kn_exit_status(env, &si);
  if (status == NULL || napi_set_element(env, results, *count, status) != napi_ok) return false;
  (*count)++;
  do rc = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG); while (rc < 0 && errno == EINTR);
  return true;
}

// Fallback without /proc: peek at one zombie at a time.
static void reap_by_peeking(napi_env env, napi_value results, uint32_t *count, const pid_list *known) {
  for (;;) {
    siginfo_t si;
    si.si_pid = 0;
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0) return;
    if (pid_list_has(known, si.si_pid)) return;
    if (!reap_one(env, results, count, si.si_pid)) return;
  }
}

static void throw_list_failed(napi_env env, const char *what) {
  kn_throw_errno(env, ENOMEM, "realloc", "reap orphans: list %s (nothing reaped)", what);
}

// reapOrphans(ownedPids: number[]) -> Array<{ pid, code } | { pid, signal }>
// Throws ENOMEM, having reaped nothing, when it cannot hold the list of pids to leave alone.
static napi_value reap_orphans(napi_env env, napi_callback_info info) {
  kn_args a;
  if (!kn_get_args(env, info, &a, 1, "reapOrphans")) return NULL;
  pid_list known = {0}, children = {0};
  uint32_t n_owned = 0;
  if (napi_get_array_length(env, a.argv[0], &n_owned) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "reapOrphans: ownedPids must be an array");
    return NULL;
  }
  for (uint32_t i = 0; i < n_owned; i++) {
    napi_value v;
    int32_t pid;
    if (napi_get_element(env, a.argv[0], i, &v) != napi_ok || napi_get_value_int32(env, v, &pid) != napi_ok) {
      free(known.pids);
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "reapOrphans: ownedPids must hold numbers");
      return NULL;
    }
    if (!pid_list_add(&known, pid)) {
      free(known.pids);
      throw_list_failed(env, "the pids owned by others");
      return NULL;
    }
  }
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    free(known.pids);
    kn_throw_napi_failure(env, "reapOrphans: get loop");
    return NULL;
  }
  uv_walk(loop, add_libuv_child, &known);
  if (known.failed) {
    free(known.pids);
    throw_list_failed(env, "the child_process children");
    return NULL;
  }

  napi_value results;
  if (napi_create_array(env, &results) != napi_ok) {
    free(known.pids);
    kn_throw_napi_failure(env, "reapOrphans result");
    return NULL;
  }
  uint32_t count = 0;
  // A list of children cut short is safe: a child left off is reaped by a later pass.
  if (list_children_from_task_files(&children) || list_children_from_stat(&children)) {
    for (size_t i = 0; i < children.len; i++)
      if (!pid_list_has(&known, children.pids[i])) reap_one(env, results, &count, children.pids[i]);
  } else {
    reap_by_peeking(env, results, &count, &known);
  }
  free(known.pids);
  free(children.pids);
  return results;
}

// libuvChildPids() -> pids of child_process children libuv is waiting for (for tests and logs).
static napi_value libuv_child_pids(napi_env env, napi_callback_info info) {
  pid_list pids = {0};
  uv_loop_t *loop;
  NAPI_OK(env, napi_get_uv_event_loop(env, &loop));
  uv_walk(loop, add_libuv_child, &pids);
  if (pids.failed) {
    free(pids.pids);
    kn_throw_errno(env, ENOMEM, "realloc", "list the child_process children");
    return NULL;
  }
  napi_value arr;
  if (napi_create_array_with_length(env, pids.len, &arr) != napi_ok) { free(pids.pids); return NULL; }
  for (size_t i = 0; i < pids.len; i++) napi_set_element(env, arr, (uint32_t)i, kn_int(env, pids.pids[i]));
  free(pids.pids);
  return arr;
}

// testOnlyFailPidListAllocations(count): the next `count` growths of a pid list fail as if
// realloc had returned NULL. For tests of that path only; the agent never calls it.
static napi_value test_only_fail_pid_list_allocations(napi_env env, napi_callback_info info) {
  kn_args a;
  if (!kn_get_args(env, info, &a, 1, "testOnlyFailPidListAllocations") ||
      !kn_arg_uint32(env, a.argv[0], &allocations_to_fail, "count"))
    return NULL;
  return kn_undefined(env);
}

// setChildSubreaper(on): orphaned descendants get reparented to us instead of to PID 1.
static napi_value set_child_subreaper(napi_env env, napi_callback_info info) {
  kn_args a;
  bool on;
  if (!kn_get_args(env, info, &a, 1, "setChildSubreaper")) return NULL;
  NAPI_OK(env, napi_get_value_bool(env, a.argv[0], &on));
  if (prctl(PR_SET_CHILD_SUBREAPER, on ? 1UL : 0UL, 0UL, 0UL, 0UL) < 0) {
    kn_throw_errno(env, errno, "prctl", "set child subreaper %s", on ? "on" : "off");
    return NULL;
  }
  return kn_undefined(env);
}

static napi_value is_child_subreaper(napi_env env, napi_callback_info info) {
  int on = 0;
  if (prctl(PR_GET_CHILD_SUBREAPER, (unsigned long)&on, 0UL, 0UL, 0UL) < 0) {
    kn_throw_errno(env, errno, "prctl", "get child subreaper");
    return NULL;
  }
  napi_value r;
  napi_get_boolean(env, on != 0, &r);
  return r;
}

napi_status kn_init_orphan_reaper(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"reapOrphans", NULL, reap_orphans, NULL, NULL, NULL, napi_default, NULL},
      {"libuvChildPids", NULL, libuv_child_pids, NULL, NULL, NULL, napi_default, NULL},
      {"setChildSubreaper", NULL, set_child_subreaper, NULL, NULL, NULL, napi_default, NULL},
      {"isChildSubreaper", NULL, is_child_subreaper, NULL, NULL, NULL, napi_default, NULL},
      {"testOnlyFailPidListAllocations", NULL, test_only_fail_pid_list_allocations, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
