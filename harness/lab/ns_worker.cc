#include "harness/lab/ns_worker.h"

#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>

#include <cerrno>
#include <utility>

#include <fmt/format.h>

#include "harness/lab/sys_error.h"

namespace svcbench {

NsWorker::NsWorker() : thread_([this] { Loop(); }) {}

NsWorker::~NsWorker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void NsWorker::Run(const std::function<void()>& fn) {
  std::unique_lock lock(mu_);
  job_ = &fn;
  error_ = nullptr;
  cv_.notify_all();
  cv_.wait(lock, [this] { return job_ == nullptr; });
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void NsWorker::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || job_ != nullptr; });
    if (job_ == nullptr) return;  // stop_, and nothing left to do
    const std::function<void()>* job = job_;
    lock.unlock();
    std::exception_ptr error;
    try {
      (*job)();
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    error_ = error;
    job_ = nullptr;
    cv_.notify_all();
  }
}

void NsWorker::Enter(int netns_fd) {
  struct stat st {};
  if (::fstat(netns_fd, &st) != 0) ThrowErrno(fmt::format("fstat(netns fd {})", netns_fd));
  if (st.st_dev == ns_dev_ && st.st_ino == ns_ino_) return;
  if (::setns(netns_fd, CLONE_NEWNET) != 0) {
    ThrowErrno(fmt::format("setns(fd {}, CLONE_NEWNET) on the probe thread", netns_fd));
  }
  ns_dev_ = st.st_dev;
  ns_ino_ = st.st_ino;
}

bool NsWorker::PinToCpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu >= 0) {
    CPU_SET(cpu, &set);
  } else if (::sched_getaffinity(0, sizeof(set), &set) != 0) {
    return false;
  }
  const int err = ::pthread_setaffinity_np(thread_.native_handle(), sizeof(set), &set);
  errno = err;
  return err == 0;
}

std::vector<int> ProcessCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (::sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

}  // namespace svcbench
