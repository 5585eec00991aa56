// Conformance: every store keeps a string byte-exact or refuses it with INVALID_ARGUMENT,
// the same way: no NUL bytes anywhere, and only JSON every store can keep.
#include "storage/checks.h"
#include "tests/storage/conformance/helpers.h"

namespace pgqrs::testing {
namespace {

using namespace std::string_literals;

bool Invalid(const absl::Status& status) {
  INFO(status.ToString());
  return status.code() == absl::StatusCode::kInvalidArgument;
}

storage::WorkflowInfo MakeWorkflow(storage::Store& store, const std::string& name) {
  storage::WorkflowOptions options;
  options.name = name;
  return Ok(store.CreateWorkflow(options));
}

TEST_CASE("names, keys and labels with a NUL byte are refused", "[conformance][text]") {
  auto store = NewTestStore();
  storage::QueueOptions queue;
  queue.name = "a\0b"s;
  CHECK(Invalid(store->CreateQueue(queue).status()));
  storage::WorkflowOptions workflow;
  workflow.name = "w\0x"s;
  CHECK(Invalid(store->CreateWorkflow(workflow).status()));

  MakeQueue(*store, "q");
  std::vector<storage::NewMessage> batch = {Msg("1", 0, absl::ZeroDuration(), "a\0b"s)};
  CHECK(Invalid(store->Enqueue("q", batch, 0).status()));
  CHECK(Ok(store->GetQueueCounts("q")).pending == 0);

  storage::WorkerRegistration reg;
  reg.name = "w";
  reg.queue = "q";
  reg.role = storage::WorkerRole::kConsumer;
  reg.labels = {{"zone", "a\0b"s}};
  CHECK(Invalid(store->RegisterWorker(reg).status()));
  reg.labels = {};
  reg.hostname = "h\0"s;
  CHECK(Invalid(store->RegisterWorker(reg).status()));

  MakeWorkflow(*store, "wf");
  CHECK(Invalid(store->StartRun({"wf", "1", "a\0b"s}).status()));
  CHECK(Invalid(store->StartRun({"wf", "1", "a\0c"s}).status()));
  CHECK(Ok(store->ListRuns(storage::RunFilter())).empty());
}

TEST_CASE("keys that differ only late, or in non-ASCII bytes, stay distinct and exact",
          "[conformance][text]") {
  auto store = NewTestStore();
  MakeWorkflow(*store, "wf");
  std::string key_a = "order-\xc3\xa9-\xf0\x9f\x93\xa6-" + std::string(200, 'x') + "a";
  std::string key_b = key_a.substr(0, key_a.size() - 1) + "b";
  storage::StartRunResult a = Ok(store->StartRun({"wf", "1", key_a}));
  storage::StartRunResult b = Ok(store->StartRun({"wf", "2", key_b}));
  CHECK(a.created);
  CHECK(b.created);
  CHECK(a.run.id != b.run.id);
  CHECK(Ok(store->GetRun(a.run.id)).idempotency_key == key_a);
  CHECK(Ok(store->GetRun(b.run.id)).idempotency_key == key_b);
}

TEST_CASE("JSON that some store could not keep is refused by all", "[conformance][text]") {
  auto store = NewTestStore();
  MakeWorkflow(*store, "wf");
  CHECK(Invalid(store->StartRun({"wf", R"({"a":"x\u0000y"})", ""}).status()));
  CHECK(Invalid(store->StartRun({"wf", R"({"a\u0000":1})", ""}).status()));
  CHECK(Invalid(store->StartRun({"wf", R"(["\ud800"])", ""}).status()));
  CHECK(Invalid(store->StartRun({"wf", R"(["\udc00x"])", ""}).status()));
  CHECK(Invalid(store->StartRun({"wf", "\"\xff\"", ""}).status()));
  int too_deep = storage::kMaxJsonDepth + 1;
  CHECK(Invalid(store->StartRun({"wf", std::string(too_deep, '[') + std::string(too_deep, ']'), ""})
                    .status()));
  CHECK(Ok(store->ListRuns(storage::RunFilter())).empty());

  // What is accepted comes back as the same JSON value on every store.
  std::string deep =
      std::string(storage::kMaxJsonDepth, '[') + std::string(storage::kMaxJsonDepth, ']');
  std::string fancy = R"({"s":"\ud83d\udce6 \u00e9 \t\"q\"","n":-1.5e3,"b":[true,null]})";
  for (const std::string& input : {deep, fancy}) {
    storage::StartRunResult started = Ok(store->StartRun({"wf", input, ""}));
    CHECK(SameJson(Ok(store->GetRun(started.run.id)).input_json, input));
  }
}

}  // namespace
}  // namespace pgqrs::testing
