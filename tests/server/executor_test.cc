#include "server/executor.h"

#include <catch2/catch.hpp>

#include <atomic>

namespace pgqrs::server {
namespace {

TEST_CASE("the executor runs every accepted task before it is destroyed", "[server][executor]") {
  std::atomic<int> ran{0};
  int accepted = 0;
  {
    Executor executor(3, 1000);
    for (int i = 0; i < 500; ++i) accepted += executor.Submit([&] { ran++; });
  }
  CHECK(accepted == 500);
  CHECK(ran == 500);
}

TEST_CASE("the executor refuses work beyond its queue limit", "[server][executor]") {
  absl::Mutex gate;
  gate.Lock();
  Executor executor(1, 2);
  // The single thread blocks on the gate, so at most the queue limit more fit.
  REQUIRE(executor.Submit([&] { absl::MutexLock lock(&gate); }));
  int queued = 0;
  while (executor.Submit([] {})) ++queued;
  CHECK(queued >= 1);
  CHECK(queued <= 2);
  gate.Unlock();
}

}  // namespace
}  // namespace pgqrs::server
