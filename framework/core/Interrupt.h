#pragma once

#include "framework/core/Error.h"

namespace prunelab {

/// Raised at the next check after SIGINT/SIGTERM: the run is recorded as KILLED, not FAILED.
class Interrupted : public Error {
 public:
  Interrupted(int signal, const char* file, int line);
  /// The signal that asked to stop.
  int signal() const { return signal_; }

 private:
  int signal_;
};

/// Installs SIGINT/SIGTERM handlers that set a flag (a second signal of the same kind terminates at
/// once, so a stuck process can still be stopped).
void installInterruptHandlers();

/// Sets the flag as the handler would (tests, and code that wants to stop cooperatively).
void requestInterrupt(int signal);

/// Clears the flag (a new run after a handled interruption, and tests).
void clearInterrupt();

/// The pending signal number, or 0.
int pendingInterrupt();

/// Throws Interrupted if a stop was requested; long loops call this between steps.
void throwIfInterrupted();

}  // namespace prunelab
