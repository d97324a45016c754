// Run: kvs-server from a parsed Config to its exit code. It opens the engine, starts the
// Raft node (cluster mode), the lookup pool and the server loop, waits for SIGTERM/SIGINT on
// a thread of its own, talks to systemd (sd_notify: READY, STATUS, STOPPING, WATCHDOG), and
// shuts down in one documented order (ShutDown in server_run.cc).
//
// Call SetUpLogging() first thing in main(), and Run() once, from main(), before any other
// thread exists: it blocks SIGTERM and SIGINT for the whole process.
#pragma once

#include <string_view>

#include "server_config.h"

namespace kvs::cli {

// Logs to stderr as "<N>text" (syslog priority) lines when stderr is the journal, with
// colour on a terminal, and as plain timestamped lines anywhere else.
void SetUpLogging();

// Logs `msg`, tells systemd (STATUS=failed: msg) and exits with `code` at once, running no
// destructors: for failures before anything was served.
[[noreturn]] void Fail(int code, std::string_view msg);

// Serves until SIGTERM/SIGINT or a fatal loop error, shuts down, and returns the exit code:
// 0 after a clean stop, kExitFailure when the loop failed or the final sync did. A start
// that fails (the engine refuses the data directory, Raft does not start, the port cannot
// be bound) exits with kExitFailure from inside, through Fail().
int Run(const Config& config);

}  // namespace kvs::cli
