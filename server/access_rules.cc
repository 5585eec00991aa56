#include "server/access_rules.h"

#include <string>

#include "absl/container/flat_hash_map.h"

namespace pgqrs::server {
namespace {

constexpr RoleSet kAdminOnly = 0;
constexpr RoleSet kProducer = RoleBit(Role::kProducer);
constexpr RoleSet kConsumer = RoleBit(Role::kConsumer);
constexpr RoleSet kWorker = RoleBit(Role::kWorker);
constexpr RoleSet kReader = RoleBit(Role::kReader);
// Producers and consumers may read the queues they use.
constexpr RoleSet kQueueReaders = kReader | kProducer | kConsumer;
// Anything that runs as a registered worker: consumers and producers register too.
constexpr RoleSet kRegistered = kWorker | kProducer | kConsumer;

constexpr LongPoll kNo = LongPoll::kNever;

using RuleMap = absl::flat_hash_map<std::string, AccessRule>;

void AddQueueRules(RuleMap& rules) {
  const std::string s = "/pgqrs.v1.QueueService/";
  rules[s + "CreateQueue"] = {kAdminOnly, "name", kNo, true};
  rules[s + "GetQueue"] = {kQueueReaders, "name", kNo, false};
  rules[s + "ListQueues"] = {kQueueReaders, nullptr, kNo, false};
  rules[s + "DeleteQueue"] = {kAdminOnly, "name", kNo, true};
  rules[s + "PurgeQueue"] = {kAdminOnly, "name", kNo, true};
  rules[s + "Enqueue"] = {kProducer, "queue", kNo, false};
  rules[s + "Dequeue"] = {kConsumer, "queue", LongPoll::kWhenWaiting, false};
  rules[s + "Ack"] = {kConsumer, "queue", kNo, false};
  rules[s + "Delete"] = {kConsumer, "queue", kNo, true};
  rules[s + "Nack"] = {kConsumer, "queue", kNo, false};
  rules[s + "ExtendVisibility"] = {kConsumer, "queue", kNo, false};
  rules[s + "GetMessages"] = {kProducer | kConsumer, "queue", kNo, false};
  rules[s + "ListDeadLetters"] = {kConsumer, "queue", kNo, false};
  rules[s + "Redrive"] = {kAdminOnly, "queue", kNo, true};
  rules[s + "QueueStats"] = {kQueueReaders, "queue", kNo, false};
  // Streams: the name is checked on each message that names a queue; Consume parks.
  rules[s + "Publish"] = {kProducer, "queue", kNo, false};
  rules[s + "Consume"] = {kConsumer, "queue", LongPoll::kAlways, false};
}

void AddWorkerRules(RuleMap& rules) {
  const std::string s = "/pgqrs.v1.WorkerService/";
  rules[s + "RegisterWorker"] = {kRegistered, "queue", kNo, false};
  rules[s + "Heartbeat"] = {kRegistered, nullptr, kNo, false};
  rules[s + "SuspendWorker"] = {kAdminOnly, nullptr, kNo, true};
  rules[s + "ResumeWorker"] = {kAdminOnly, nullptr, kNo, true};
  rules[s + "InterruptWorker"] = {kAdminOnly, nullptr, kNo, true};
  rules[s + "ShutdownWorker"] = {kRegistered, nullptr, kNo, true};
  rules[s + "GetWorker"] = {kRegistered | kReader, nullptr, kNo, false};
  rules[s + "ListWorkers"] = {kReader, "queue", kNo, false};
}

void AddAdminRules(RuleMap& rules) {
  const std::string s = "/pgqrs.v1.AdminService/";
  rules[s + "Migrate"] = {kAdminOnly, nullptr, kNo, true};
  rules[s + "Verify"] = {kAdminOnly, nullptr, kNo, false};
  rules[s + "SystemStats"] = {kReader, nullptr, kNo, false};
  rules[s + "ReclaimWorkers"] = {kAdminOnly, "queue", kNo, true};
  rules[s + "GetServerInfo"] = {kReader, nullptr, kNo, false};
}

void AddWorkflowRules(RuleMap& rules) {
  const std::string s = "/pgqrs.v1.WorkflowService/";
  rules[s + "CreateWorkflow"] = {kAdminOnly, "name", kNo, true};
  rules[s + "StartRun"] = {kProducer, "workflow", kNo, false};
  rules[s + "ClaimRun"] = {kWorker, "workflow", LongPoll::kWhenWaiting, false};
  for (const char* step_call :
       {"BeginStep", "CompleteStep", "FailStep", "CompleteRun", "FailRun", "PauseRun",
        "ExtendRunLease"}) {
    rules[s + step_call] = {kWorker, nullptr, kNo, false};
  }
  rules[s + "CancelRun"] = {kAdminOnly, nullptr, kNo, true};
  rules[s + "GetRun"] = {kReader | kProducer | kWorker, nullptr, kNo, false};
  rules[s + "WaitRun"] = {kReader | kProducer, nullptr, LongPoll::kAlways, false};
  rules[s + "ListRuns"] = {kReader, "workflow", kNo, false};
  rules[s + "ListSteps"] = {kReader | kWorker, nullptr, kNo, false};
  rules[s + "ListWorkflows"] = {kReader, nullptr, kNo, false};
}

const RuleMap& Rules() {
  static const RuleMap* rules = [] {
    auto* map = new RuleMap;
    AddQueueRules(*map);
    AddWorkerRules(*map);
    AddAdminRules(*map);
    AddWorkflowRules(*map);
    return map;
  }();
  return *rules;
}

}  // namespace

const AccessRule* FindAccessRule(absl::string_view method) {
  auto it = Rules().find(method);
  return it == Rules().end() ? nullptr : &it->second;
}

}  // namespace pgqrs::server
