// SIGINT/SIGTERM handling shared by the run loop and everything it waits on.
#pragma once

namespace svcbench {

// Installs handlers for SIGINT and SIGTERM that only set a flag (no SA_RESTART, so a blocking
// wait returns EINTR and can check it). Idempotent.
void InstallInterruptHandlers();

bool InterruptRequested();

// The signal that was received, or 0.
int InterruptSignal();

// Thrown by long operations that noticed an interrupt, so cleanup runs through destructors.
struct Interrupted {
  int signal = 0;
};

// Throws Interrupted when an interrupt was requested.
void ThrowIfInterrupted();

}  // namespace svcbench
