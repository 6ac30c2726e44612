#ifndef AGENTOS_CSPAWN_H
#define AGENTOS_CSPAWN_H

#include <sys/types.h>

/// Spawns `path` with `argv` and `envp` as the leader of a new session (so its whole process
/// tree can be killed as one group), with default signal handling and an empty signal mask,
/// working directory `cwd`, stdin from /dev/null and stdout/stderr on the given descriptors.
/// Returns the child's pid, or -errno.
pid_t agentos_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd,
                    int stdout_fd, int stderr_fd);

/// Creates a close-on-exec pipe whose read end (fds[0]) is non-blocking. Returns 0 or -errno.
int agentos_pipe(int fds[2]);

#endif
