// Unary calls that share one store call. Calls of one kind (say Enqueue) and one key (say
// queue and producer) that arrive while the store call of an earlier group with that key
// runs wait for it, and then run together as the next group: one transaction and one
// durable commit for all of them, after which the executor thread that ran the group
// finishes every call in it. A call that finds no group of its key running starts one at
// once, alone, as RunUnary would run it. The calls of a group share its fate: a store error
// answers all of them. So the key must hold everything the store call can fail on (the
// streams merge requests the same way: publish_stream.cc, consume_settle.h).
//
// Thread safety: Add may be called from any thread.
#pragma once

#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "server/call.h"
#include "server/executor.h"
#include "server/status.h"

namespace pgqrs::server {

// The ending of a grouped plain unary call: finishing its reactor.
struct GroupedUnary {
  UnaryCall* call;
  std::optional<grpc::Status> Gone() const { return call->Gone(); }
  void Finish(const grpc::Status& status) { call->Finish(status); }
};

// `Item` is one call's work: what the store call needs, and the call's ending:
//   std::optional<grpc::Status> Gone() const;  // what to answer when the caller left
//   void Finish(const grpc::Status& status);    // ends the call after the group ran
// (GroupedUnary below for a plain unary call).
template <typename Item>
class CallGroups {
 public:
  // Runs the work of `group` in one store call and fills the responses of its calls.
  using StoreGroup = std::function<absl::Status(std::span<Item> group)>;

  // `max_weight` bounds the summed weight (messages, receipts) of a group; `max_waiting`
  // bounds the calls waiting per key (more are refused, as by a full executor). REQUIRES: both > 0.
  CallGroups(Executor& executor, int max_weight, int max_waiting, StoreGroup store_group)
      : executor_(executor),
        max_weight_(max_weight),
        max_waiting_(static_cast<size_t>(max_waiting)),
        store_group_(std::move(store_group)) {}
  CallGroups(const CallGroups&) = delete;
  CallGroups& operator=(const CallGroups&) = delete;

  // Adds `item` (carrying `weight`) to the next group of `key`. Its call is finished
  // whatever happens: by the group, or at once when the server is overloaded.
  void Add(const std::string& key, Item item, int weight) {
    bool refused = false;
    bool start = false;
    {
      absl::MutexLock lock(&mu_);
      // A key without a lane has no group on the executor: this call starts one (a new
      // lane is empty, so it is never refused).
      auto [lane, inserted] = lanes_.try_emplace(key);
      refused = lane->second.size() >= max_waiting_;
      if (!refused) lane->second.push_back({std::move(item), weight});
      start = inserted;
    }
    if (refused) item.Finish(Overloaded());
    if (start) StartNext(key);
  }

  // Calls added and not yet taken into a running group.
  size_t waiting() const {
    absl::MutexLock lock(&mu_);
    size_t calls = 0;
    for (const auto& [key, lane] : lanes_) calls += lane.size();
    return calls;
  }

 private:
  struct Waiting {
    Item item;
    int weight;
  };
  // The calls of one key waiting for its group on the executor to end.
  using Lane = std::deque<Waiting>;

  static grpc::Status Overloaded() {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, kOverloaded);
  }

  // Hands the next group of `key` to the executor. REQUIRES: `key` has a lane.
  void StartNext(const std::string& key) {
    if (executor_.Submit([this, key] { RunNext(key); })) return;
    std::deque<Waiting> refused;
    {
      absl::MutexLock lock(&mu_);
      refused.swap(lanes_[key]);
      lanes_.erase(key);
    }
    for (Waiting& w : refused) w.item.Finish(Overloaded());
  }

  // Runs the groups of `key` until none is waiting. On the executor.
  void RunNext(const std::string& key) {
    while (true) {
      std::vector<Item> group = TakeGroup(key);
      if (!group.empty()) Run(group);
      {
        absl::MutexLock lock(&mu_);
        auto lane = lanes_.find(key);
        if (lane->second.empty()) {
          lanes_.erase(lane);
          return;
        }
      }
      // The next group runs on this thread, without a hop, unless other work waits for
      // a thread: then it queues behind that work, so a busy key cannot hold a thread.
      if (executor_.queued() > 0) {
        StartNext(key);
        return;
      }
    }
  }

  // The waiting calls of `key` that fit one group, oldest first, less those whose callers
  // are gone (finished here).
  std::vector<Item> TakeGroup(const std::string& key) {
    std::vector<Item> group;
    {
      absl::MutexLock lock(&mu_);
      Lane& waiting = lanes_.find(key)->second;
      int weight = 0;
      while (!waiting.empty() &&
             (group.empty() || weight + waiting.front().weight <= max_weight_)) {
        weight += waiting.front().weight;
        group.push_back(std::move(waiting.front().item));
        waiting.pop_front();
      }
    }
    std::vector<Item> live;
    for (Item& item : group) {
      if (std::optional<grpc::Status> gone = item.Gone()) {
        item.Finish(*gone);
      } else {
        live.push_back(std::move(item));
      }
    }
    return live;
  }

  void Run(std::vector<Item>& group) {
    grpc::Status status = ToGrpcStatus(store_group_(std::span<Item>(group)));
    for (Item& item : group) item.Finish(status);
  }

  Executor& executor_;
  const int max_weight_;
  const size_t max_waiting_;
  const StoreGroup store_group_;
  mutable absl::Mutex mu_;
  // Exactly the keys with a group on the executor (running or queued to run).
  absl::flat_hash_map<std::string, Lane> lanes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pgqrs::server
