// Starting a program cheaply. child_process.spawn forks the whole Node process (copying its page
// tables: 1.5-2.3 ms for the agent) before exec; glibc's posix_spawn uses clone(CLONE_VM |
// CLONE_VFORK), so the cost no longer grows with the agent's memory, and it still reports an exec
// failure (ENOENT...) as its return value. The child starts as child_process would start it:
// empty signal mask, every signal at its default disposition (Node ignores SIGPIPE and SIGXFSZ,
// and ignored dispositions survive exec), fds 0-2 as given, and no other fd (the agent's fds are
// close-on-exec, but an fd inherited from whoever started the agent may not be).
//
// The caller gets only the pid: exit statuses come from a pidfd (process_exit.c). The orphan
// reaper must never collect such a child, so the caller claims the pid before it returns to the
// event loop (the reaper only runs from there).
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "concerns.h"
#include "napi_helpers.h"

extern char **environ;

typedef struct {
  char **items;  // NULL-terminated
  uint32_t len;
} str_vec;

static void str_vec_free(str_vec *v) {
  if (v->items == NULL) return;
  for (uint32_t i = 0; i < v->len; i++) free(v->items[i]);
  free(v->items);
  v->items = NULL;
}

// Copies a JS string array into `v`, after `lead` (placed first when not NULL).
static bool str_vec_from_array(napi_env env, napi_value arr, const char *lead, str_vec *v, const char *what) {
  bool is_array = false;
  uint32_t n = 0;
  v->items = NULL;
  v->len = 0;
  if (napi_is_array(env, arr, &is_array) != napi_ok || !is_array || napi_get_array_length(env, arr, &n) != napi_ok) {
    char msg[120];
    snprintf(msg, sizeof msg, "%s must be an array of strings", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return false;
  }
  uint32_t total = n + (lead != NULL ? 1 : 0);
  v->items = calloc(total + 1, sizeof *v->items);
  if (v->items == NULL) { napi_throw_error(env, "ENOMEM", "out of memory"); return false; }
  if (lead != NULL) {
    v->items[v->len] = strdup(lead);
    if (v->items[v->len] == NULL) { str_vec_free(v); napi_throw_error(env, "ENOMEM", "out of memory"); return false; }
    v->len++;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    if (napi_get_element(env, arr, i, &el) != napi_ok || !kn_arg_string(env, el, &v->items[v->len], false, what)) {
      str_vec_free(v);
      return false;
    }
    v->len++;
  }
  return true;
}

static bool get_stdio_fds(napi_env env, napi_value arr, int fds[3]) {
  bool is_array = false;
  uint32_t n = 0;
  if (napi_is_array(env, arr, &is_array) != napi_ok || !is_array || napi_get_array_length(env, arr, &n) != napi_ok || n != 3) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "spawnProcess: stdio must be an array of 3 fds (-1 for /dev/null)");
    return false;
  }
  for (uint32_t i = 0; i < 3; i++) {
    napi_value el;
    int32_t fd;
    if (napi_get_element(env, arr, i, &el) != napi_ok || !kn_arg_int32(env, el, &fd, "spawnProcess: stdio fd")) return false;
    fds[i] = fd < 0 ? -1 : fd;
  }
  return true;
}

// opts.cwd (string) when present.
static bool get_cwd(napi_env env, napi_value opts, char **cwd) {
  *cwd = NULL;
  napi_valuetype t;
  if (napi_typeof(env, opts, &t) != napi_ok) return false;
  if (t == napi_null || t == napi_undefined) return true;
  if (t != napi_object) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "spawnProcess: options must be an object");
    return false;
  }
  bool has = false;
  napi_value v;
  if (napi_has_named_property(env, opts, "cwd", &has) != napi_ok) return false;
  if (!has) return true;
  if (napi_get_named_property(env, opts, "cwd", &v) != napi_ok) return false;
  return kn_arg_string(env, v, cwd, true, "spawnProcess: options.cwd");
}

// Every signal but KILL and STOP (which can't be changed). sigfillset leaves out glibc's own
// signals (32, 33: thread cancellation, setxid), which its posix_spawn then sets to SIG_IGN in
// the child, and an ignored signal survives exec: crun and the container would start with them
// ignored, which child_process does not do. So their bits are set by hand.
static void all_signals(sigset_t *set) {
  sigfillset(set);
  sigdelset(set, SIGKILL);
  sigdelset(set, SIGSTOP);
  unsigned long *words = (unsigned long *)set;
  const int bits = 8 * (int)sizeof(unsigned long);
  for (int sig = __SIGRTMIN; sig < SIGRTMIN; sig++) words[(sig - 1) / bits] |= 1UL << ((sig - 1) % bits);
}

// Builds the attributes and file actions, then spawns; returns 0 or an errno, and names the
// step that failed in *step.
static int spawn_with(const char *path, char *const argv[], char *const envp[], const int fds[3], const char *cwd,
                      pid_t *pid, const char **step) {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  int err;
  int temp_fds[3] = {-1, -1, -1};
  int src[3];

  *step = "posix_spawnattr_init";
  if ((err = posix_spawnattr_init(&attr)) != 0) return err;
  *step = "posix_spawn_file_actions_init";
  if ((err = posix_spawn_file_actions_init(&actions)) != 0) { posix_spawnattr_destroy(&attr); return err; }

  sigset_t empty, all;
  sigemptyset(&empty);
  all_signals(&all);
  *step = "posix_spawnattr_setflags";
  err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (err == 0) err = posix_spawnattr_setsigmask(&attr, &empty);
  if (err == 0) err = posix_spawnattr_setsigdefault(&attr, &all);

  // A source fd among 0-2 that goes elsewhere would be overwritten by an earlier dup2: move it
  // above 2 first (close-on-exec, so nothing else sees it).
  for (int i = 0; i < 3 && err == 0; i++) {
    src[i] = fds[i];
    if (src[i] >= 0 && src[i] < 3 && src[i] != i) {
      *step = "fcntl(F_DUPFD_CLOEXEC)";
      temp_fds[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3);
      if (temp_fds[i] < 0) err = errno;
      else src[i] = temp_fds[i];
    }
  }
  for (int i = 0; i < 3 && err == 0; i++) {
    *step = "posix_spawn_file_actions";
    // dup2 onto itself clears close-on-exec (glibc >= 2.29, as POSIX requires).
    if (src[i] >= 0) err = posix_spawn_file_actions_adddup2(&actions, src[i], i);
    else err = posix_spawn_file_actions_addopen(&actions, i, "/dev/null", O_RDWR, 0);
  }
  if (err == 0) err = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  if (err == 0 && cwd != NULL) err = posix_spawn_file_actions_addchdir_np(&actions, cwd);

  if (err == 0) {
    *step = "posix_spawn";
    // A bare name is looked up on PATH, as child_process does.
    err = strchr(path, '/') != NULL ? posix_spawn(pid, path, &actions, &attr, argv, envp)
                                    : posix_spawnp(pid, path, &actions, &attr, argv, envp);
  }
  for (int i = 0; i < 3; i++)
    if (temp_fds[i] >= 0) close(temp_fds[i]);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return err;
}

// spawnProcess(path, args, env: string[] | null, stdio: [fd, fd, fd], options?: { cwd }) -> pid
// args exclude argv[0] (which is `path`); env null inherits ours; an fd of -1 is /dev/null.
static napi_value spawn_process(napi_env env, napi_callback_info info) {
  kn_args a;
  if (!kn_get_args(env, info, &a, 4, "spawnProcess")) return NULL;
  char *path = NULL, *cwd = NULL;
  str_vec argv = {0}, envv = {0};
  int fds[3];
  napi_value result = NULL;
  napi_valuetype env_type;

  if (!kn_arg_string(env, a.argv[0], &path, false, "spawnProcess: path")) goto out;
  if (!str_vec_from_array(env, a.argv[1], path, &argv, "spawnProcess: args")) goto out;
  if (napi_typeof(env, a.argv[2], &env_type) != napi_ok) goto out;
  if (env_type != napi_null && env_type != napi_undefined &&
      !str_vec_from_array(env, a.argv[2], NULL, &envv, "spawnProcess: env"))
    goto out;
  if (!get_stdio_fds(env, a.argv[3], fds)) goto out;
  if (a.argc > 4 && !get_cwd(env, a.argv[4], &cwd)) goto out;

  pid_t pid = 0;
  const char *step = "";
  int err = spawn_with(path, argv.items, envv.items != NULL ? envv.items : environ, fds, cwd, &pid, &step);
  if (err != 0) {
    kn_throw_errno(env, err, step, "spawn %s", path);
    goto out;
  }
  result = kn_int(env, pid);
  if (result == NULL) {
    // The caller would never learn the pid, so could neither claim it nor wait for it: undo.
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    kn_throw_napi_failure(env, "spawnProcess result");
  }
out:
  free(path);
  free(cwd);
  str_vec_free(&argv);
  str_vec_free(&envv);
  return result;
}

napi_status kn_init_spawn(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"spawnProcess", NULL, spawn_process, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
