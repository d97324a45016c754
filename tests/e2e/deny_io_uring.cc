// deny-io-uring PROGRAM [ARGS...]: runs PROGRAM (a path) with io_uring_setup(2) failing
// with EPERM, as on a host where io_uring is disabled, through a seccomp filter that
// PROGRAM inherits. A launcher for e2e tests (harness.h ServerProcess) whose server must
// get as far as its loop and then fail there. Test-only.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: deny-io-uring PROGRAM [ARGS...]\n");
    return 2;
  }
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog program = {static_cast<unsigned short>(sizeof filter / sizeof filter[0]),
                               filter};
  // no_new_privs lets an unprivileged process install a filter.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    std::fprintf(stderr, "deny-io-uring: seccomp: %s\n", std::strerror(errno));
    return 126;
  }
  execv(argv[1], argv + 1);
  std::fprintf(stderr, "deny-io-uring: exec %s: %s\n", argv[1], std::strerror(errno));
  return 127;
}
