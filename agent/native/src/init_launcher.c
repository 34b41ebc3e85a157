/*
 * /sbin/init (and /init) of the agent image: replaces itself with Node running the agent, so the
 * agent is PID 1. It starts Node from the image builder's V8 startup snapshot when the image has
 * one, else from the bundle; "--" ends Node's options so the agent's own follow.
 *
 * A static executable rather than a shell script: under TCG a busybox sh start costs about 0.1 s
 * of the agent's ready time, and this does nothing a shell is needed for.
 *
 * --no-rehash-snapshot keeps the string hash seed the blob was built with (drawn at random at image
 * build) instead of re-hashing the whole snapshot heap for a new seed at each boot; the image
 * builder probes its blob with the same options (SNAPSHOT_NODE_OPTIONS in agent-snapshot.ts).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AGENT_DIR "/usr/lib/kata-agent"
#define NODE "/usr/bin/node"
#define SNAPSHOT_BLOB AGENT_DIR "/agent.blob"
#define BUNDLE AGENT_DIR "/agent.js"
/* The kernel starts init with no PATH; crun and the debug shell are found through it. */
#define DEFAULT_PATH "/usr/sbin:/usr/bin:/sbin:/bin"

int main(int argc, char **argv) {
  /* node, up to four options of ours, the agent's arguments, NULL */
  char **args = calloc((size_t)argc + 5, sizeof *args);
  if (args == NULL) {
    fputs("kata-agent init: out of memory\n", stderr);
    return 127;
  }
  int n = 0;
  args[n++] = NODE;
  if (access(SNAPSHOT_BLOB, R_OK) == 0) {
    args[n++] = "--no-rehash-snapshot";
    args[n++] = "--snapshot-blob";
    args[n++] = SNAPSHOT_BLOB;
    args[n++] = "--";
  } else {
    args[n++] = BUNDLE;
  }
  for (int i = 1; i < argc; i++) args[n++] = argv[i];
  args[n] = NULL;

  setenv("PATH", DEFAULT_PATH, 0);
  execv(NODE, args);
  /* As PID 1 returning panics the kernel: the reason is the last line on the console. */
  fprintf(stderr, "kata-agent init: cannot run %s: %s\n", NODE, strerror(errno));
  return 127;
}
