// The conformance suite runs the same cases against every Store adapter. Each adapter's
// test binary links the suite and defines NewTestStore().
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "storage/store.h"

namespace pgqrs::testing {

// A fresh, migrated, empty store. Fails the test (REQUIRE) if one cannot be made.
std::unique_ptr<storage::Store> NewTestStore();

// Polls `condition` every 10 ms until it holds or `timeout` passes. Returns whether it
// held. For waiting on the storage clock without depending on exact timing.
inline bool WaitUntil(const std::function<bool()>& condition,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

}  // namespace pgqrs::testing
