// cberth_bpf: the bpf(2) calls the cgroup v2 device controller needs. Swift cannot build the
// kernel's `union bpf_attr` portably and glibc has no bpf() wrapper, so these few lines are C.
// (Its sibling cberth_events.h holds eventfd.)
#ifndef CBERTH_BPF_H
#define CBERTH_BPF_H
#include <stdint.h>

// Loads a BPF_PROG_TYPE_CGROUP_DEVICE program (`count` 8-byte instructions). The verifier's log,
// if any, is written to `log` (may be NULL). Returns the program fd or -1 with errno.
int berth_bpf_load_device_program(const uint64_t *instructions, uint32_t count, const char *license,
                                  char *log, uint32_t log_size);

// Attaches `program_fd` to the cgroup directory `cgroup_fd` as a BPF_CGROUP_DEVICE program with
// BPF_F_ALLOW_MULTI. Returns 0 or -1 with errno.
int berth_bpf_attach_device_program(int cgroup_fd, int program_fd);

// Detaches one BPF_CGROUP_DEVICE program from the cgroup. Returns 0 or -1 with errno.
int berth_bpf_detach_device_program(int cgroup_fd, int program_fd);

// Lists the ids of device programs attached directly to the cgroup: fills up to *count ids and
// sets *count to the number found. Returns 0 or -1 with errno.
int berth_bpf_query_device_programs(int cgroup_fd, uint32_t *ids, uint32_t *count);

// Opens an fd on a loaded program by id. Returns the fd or -1 with errno.
int berth_bpf_program_fd_by_id(uint32_t id);
#endif
