// CPU time counters for CPU-per-connection figures: the whole machine's from /proc/stat, and
// this process's from getrusage.
#pragma once

#include <optional>
#include <string_view>

namespace svcbench {

struct CpuTimes {
  // Summed over all CPUs, in seconds: time not idle (user, nice, system, irq, softirq; steal,
  // guest and iowait excluded), and of that the time in softirq context, where the kernel
  // forwards, NATs and delivers the packets between the lab's namespaces.
  double busy_s = 0;
  double softirq_s = 0;
};

// The aggregate "cpu " line of /proc/stat text, in USER_HZ ticks of ticks_per_s; nullopt when
// there is none. @see man 5 proc (/proc/stat)
std::optional<CpuTimes> ParseProcStat(std::string_view text, double ticks_per_s);

// /proc/stat now; throws std::system_error when it cannot be read or parsed.
CpuTimes ReadProcStat();

// User + system CPU time of this process, all threads, in seconds (getrusage RUSAGE_SELF). On a
// kernel without IRQ time accounting this includes the softirq work its threads run inline,
// which is where the packets its probes send are forwarded and NATed. @see man 2 getrusage
double ProcessCpuSeconds();

}  // namespace svcbench
