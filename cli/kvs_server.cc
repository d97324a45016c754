// kvs-server: the durable key-value server (DESIGN.md "kvs-server").
//
// Parses flags (each also readable from a KVS_* environment variable; server_config.h),
// opens the engine, binds the port, and runs the io_uring loop until SIGTERM/SIGINT, then
// finishes in-flight work, syncs and exits 0 (server_run.h; the shutdown order is in
// server_run.cc). Start-up failures print one clear line and exit non-zero.

#include <cstdio>

#include "server_config.h"
#include "server_run.h"

int main(int argc, char** argv) {
  // First: a bad flag is reported through the log, like every other start-up failure.
  kvs::cli::SetUpLogging();
  kvs::Result<kvs::cli::Config> config = kvs::cli::ParseConfig(argc, argv, KVS_VERSION_STRING);
  if (!config.ok()) kvs::cli::Fail(kvs::cli::kExitUsage, config.status().message());
  if (config->print_and_exit) {  // --help, --version
    std::fputs(config->print_and_exit->c_str(), stdout);
    return 0;
  }
  return kvs::cli::Run(*config);
}
