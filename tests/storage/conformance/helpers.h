// Small helpers shared by the conformance cases.
#pragma once

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "storage/store.h"
#include "tests/storage/conformance/store_factory.h"

namespace pgqrs::testing {

// Unwraps a StatusOr, failing the test with its status when it is an error.
template <typename T>
T Ok(absl::StatusOr<T> result) {
  INFO(result.status().ToString());
  REQUIRE(result.ok());
  return std::move(*result);
}

// Whether two JSON texts hold the same value (key order and whitespace aside).
inline bool SameJson(const std::string& a, const std::string& b) {
  return nlohmann::json::parse(a) == nlohmann::json::parse(b);
}

// The first page of a run's steps, large enough for any test.
inline storage::StepFilter StepsOf(int64_t run_id) {
  storage::StepFilter filter;
  filter.run_id = run_id;
  filter.limit = 1000;
  return filter;
}

inline void RequireOk(const absl::Status& status) {
  INFO(status.ToString());
  REQUIRE(status.ok());
}

inline storage::QueueInfo MakeQueue(storage::Store& store, const std::string& name,
                                    int32_t max_read_count = 5,
                                    absl::Duration vt = absl::Seconds(30)) {
  storage::QueueOptions options;
  options.name = name;
  options.max_read_count = max_read_count;
  options.visibility_timeout = vt;
  return Ok(store.CreateQueue(options));
}

inline storage::NewMessage Msg(const std::string& payload, int32_t priority = 0,
                               absl::Duration delay = absl::ZeroDuration(),
                               const std::string& dedup_key = "") {
  storage::NewMessage m;
  m.payload_json = payload;
  m.priority = priority;
  m.delay = delay;
  m.dedup_key = dedup_key;
  return m;
}

inline int64_t EnqueueOne(storage::Store& store, const std::string& queue,
                          const std::string& payload) {
  std::vector<storage::NewMessage> batch = {Msg(payload)};
  return Ok(store.Enqueue(queue, batch, 0)).at(0);
}

inline std::vector<storage::Message> DequeueN(storage::Store& store, const std::string& queue,
                                              int32_t n, absl::Duration vt = absl::Seconds(30),
                                              int64_t worker = 0) {
  storage::DequeueOptions options;
  options.max_messages = n;
  options.visibility_timeout = vt;
  options.consumer_worker_id = worker;
  return Ok(store.Dequeue(queue, options));
}

inline storage::Message GetOne(storage::Store& store, const std::string& queue, int64_t id) {
  std::vector<int64_t> ids = {id};
  std::vector<storage::Message> found = Ok(store.GetMessages(queue, ids));
  REQUIRE(found.size() == 1);
  return found[0];
}

inline storage::LeaseOutcome AckOne(storage::Store& store, const std::string& queue,
                                    const storage::Lease& lease) {
  std::vector<storage::Lease> leases = {lease};
  return Ok(store.Ack(queue, leases)).at(0);
}

}  // namespace pgqrs::testing
