// One long-lived thread for work that must happen inside network namespaces over and over.
//
// A timed probe creates a socket per sample inside the client's namespace; netns::RunIn starts
// a fresh thread for every call, which costs more than the sample itself. A worker enters a
// namespace with setns() only when a job asks for another one, and stays there, so thousands of
// sockets cost one setns. The caller's thread never leaves its own namespace.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace svcbench {

class NsWorker {
 public:
  // Starts the thread, in the caller's namespace.
  NsWorker();
  // Finishes the running job, if any, and joins; the thread's namespace goes with it.
  ~NsWorker();
  NsWorker(const NsWorker&) = delete;
  NsWorker& operator=(const NsWorker&) = delete;

  // Runs fn on the worker and waits for it; rethrows whatever fn throws (also non-std types
  // such as Interrupted). Not reentrant: fn must not call Run.
  void Run(const std::function<void()>& fn);

  // Only from inside a job: moves the worker into the namespace of netns_fd unless it is there
  // already (same namespace inode). Throws std::system_error. @see man 2 setns
  void Enter(int netns_fd);

  // Restricts the worker to one CPU, or with -1 gives it back every CPU the process may use;
  // false (errno set) when the kernel refuses. @see man 3 pthread_setaffinity_np
  bool PinToCpu(int cpu);

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void()>* job_ = nullptr;  // set by Run, cleared by the worker when done
  bool stop_ = false;
  std::exception_ptr error_;
  // The namespace the worker is in (0/0: the one it started in).
  dev_t ns_dev_ = 0;
  ino_t ns_ino_ = 0;
  std::thread thread_;
};

// The CPUs this process may run on (sched_getaffinity), ascending. @see man 2 sched_getaffinity
std::vector<int> ProcessCpus();

}  // namespace svcbench
