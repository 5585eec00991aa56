// gRPC request fuzzer: starts the server in-process on sqlite::memory: and sends it
// generated, mutated and corpus requests (raw wire bytes through a generic stub) for every
// method of the four services, for FUZZ_SECONDS. Built with ASan + UBSan (see BUILD.bazel),
// so a crash or a sanitizer report ends the run. After every request the server refused,
// the store's counts (queues, workers, messages) must be unchanged: nothing is stored when
// a request is refused. Regression seeds are replayed first.
//
//   grpc_request_fuzz [--seconds=N] [--seed=N] [--corpus=DIR] [--regressions=FILE]
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/text_format.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proto/pgqrs/v1/admin.grpc.pb.h"
#include "proto/pgqrs/v1/queue.grpc.pb.h"
#include "proto/pgqrs/v1/worker.grpc.pb.h"
#include "proto/pgqrs/v1/workflow.grpc.pb.h"
#include "server/logging.h"
#include "server/server.h"
#include "tests/fuzz/request_generator.h"

ABSL_FLAG(int64_t, seconds, 60, "how long to fuzz with a fresh seed (after the regressions)");
ABSL_FLAG(uint64_t, seed, 0, "seed of the timed run (0: from the clock; printed)");
ABSL_FLAG(std::string, corpus, "", "directory of *.textproto requests");
ABSL_FLAG(std::string, regressions, "", "file of `SEED ITERATIONS` lines to replay first");

namespace pgqrs::fuzz {
namespace {

namespace pb = google::protobuf;

struct Method {
  std::string path;  // "/pgqrs.v1.QueueService/Enqueue"
  const pb::Descriptor* input;
};

struct Input {
  const Method* method;
  std::string bytes;
};

struct Counts {
  int64_t queues, workers, messages;
  bool operator==(const Counts&) const = default;
};

std::string Describe(const Counts& c) {
  return absl::StrCat("queues=", c.queues, " workers=", c.workers, " messages=", c.messages);
}

std::vector<Method> AllMethods() {
  std::vector<Method> methods;
  for (const char* name : {"pgqrs.v1.QueueService", "pgqrs.v1.WorkerService",
                           "pgqrs.v1.AdminService", "pgqrs.v1.WorkflowService"}) {
    const pb::ServiceDescriptor* service =
        pb::DescriptorPool::generated_pool()->FindServiceByName(name);
    for (int i = 0; i < service->method_count(); ++i) {
      methods.push_back({absl::StrCat("/", name, "/", service->method(i)->name()),
                         service->method(i)->input_type()});
    }
  }
  return methods;
}

// Corpus files: a first line "# /pgqrs.v1.Service/Method", then the request in text format.
std::vector<Input> LoadCorpus(const std::string& dir, const std::vector<Method>& methods) {
  std::vector<Input> corpus;
  if (dir.empty()) return corpus;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path());
    std::string header;
    std::getline(in, header);
    std::stringstream body;
    body << in.rdbuf();
    for (const Method& m : methods) {
      if (header != "# " + m.path) continue;
      std::unique_ptr<pb::Message> request(
          pb::MessageFactory::generated_factory()->GetPrototype(m.input)->New());
      if (!pb::TextFormat::ParseFromString(body.str(), request.get())) {
        std::cerr << "fuzz: cannot parse " << entry.path() << "\n";
        std::exit(2);
      }
      corpus.push_back({&m, request->SerializeAsString()});
    }
  }
  return corpus;
}

class Fuzzer {
 public:
  Fuzzer(std::shared_ptr<grpc::Channel> channel, std::vector<Method> methods,
         std::vector<Input> corpus)
      : channel_(channel),
        generic_(channel),
        queues_(v1::QueueService::NewStub(channel)),
        workers_(v1::WorkerService::NewStub(channel)),
        admin_(v1::AdminService::NewStub(channel)),
        workflows_(v1::WorkflowService::NewStub(channel)),
        methods_(std::move(methods)),
        corpus_(std::move(corpus)) {}

  // Sends requests from `seed` until `iterations` are done or `deadline` passes. False (after
  // printing the request) when a refused request changed the store.
  bool Run(uint64_t seed, int64_t iterations, absl::Time deadline);
  int64_t total() const { return total_; }
  const std::map<std::string, int64_t>& codes() const { return codes_; }

 private:
  std::vector<std::string> Fixture();
  Counts Read();
  grpc::Status Send(const Input& input);
  Input Next(RequestGenerator& gen);

  std::shared_ptr<grpc::Channel> channel_;
  grpc::GenericStub generic_;
  std::unique_ptr<v1::QueueService::Stub> queues_;
  std::unique_ptr<v1::WorkerService::Stub> workers_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::unique_ptr<v1::WorkflowService::Stub> workflows_;
  std::vector<Method> methods_;
  std::vector<Input> corpus_;
  int64_t total_ = 0;
  std::map<std::string, int64_t> codes_;  // by status code
};

template <typename Stub, typename Request, typename Response>
grpc::Status Unary(Stub* stub,
                   grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                   const Request& request, Response* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return (stub->*method)(&context, request, response);
}

// Names, messages and leases for fuzzed requests to hit; returns the strings worth using
// (names, receipts) for the dictionary. Idempotent enough to run again and again.
std::vector<std::string> SetUpFixture(v1::QueueService::Stub* queues,
                                      v1::WorkerService::Stub* workers,
                                      v1::WorkflowService::Stub* workflows) {
  std::vector<std::string> words = {"fz", "fzwf", "fzw"};
  v1::CreateQueueRequest queue;
  queue.set_name("fz");
  queue.set_if_not_exists(true);
  v1::Queue created;
  Unary(queues, &v1::QueueService::Stub::CreateQueue, queue, &created);
  v1::EnqueueRequest enqueue;
  enqueue.set_queue("fz");
  for (int i = 0; i < 3; ++i) enqueue.add_messages()->set_payload_json(R"({"n":1})");
  v1::EnqueueResponse ids;
  Unary(queues, &v1::QueueService::Stub::Enqueue, enqueue, &ids);
  v1::DequeueRequest dequeue;
  dequeue.set_queue("fz");
  v1::DequeueResponse leased;
  Unary(queues, &v1::QueueService::Stub::Dequeue, dequeue, &leased);
  for (const v1::Message& m : leased.messages()) words.push_back(m.receipt());
  v1::CreateWorkflowRequest workflow;
  workflow.set_name("fzwf");
  workflow.set_if_not_exists(true);
  v1::Workflow wf;
  Unary(workflows, &v1::WorkflowService::Stub::CreateWorkflow, workflow, &wf);
  v1::StartRunRequest start;
  start.set_workflow("fzwf");
  start.set_input_json("{}");
  v1::Run run;
  Unary(workflows, &v1::WorkflowService::Stub::StartRun, start, &run);
  v1::ClaimRunRequest claim;
  claim.set_workflow("fzwf");
  v1::ClaimRunResponse claimed;
  Unary(workflows, &v1::WorkflowService::Stub::ClaimRun, claim, &claimed);
  if (!claimed.receipt().empty()) words.push_back(claimed.receipt());
  v1::RegisterWorkerRequest worker;
  worker.set_name("fzw");
  worker.set_queue("fz");
  worker.set_role(v1::WORKER_ROLE_CONSUMER);
  v1::Worker registered;
  Unary(workers, &v1::WorkerService::Stub::RegisterWorker, worker, &registered);
  return words;
}

std::vector<std::string> Fuzzer::Fixture() {
  return SetUpFixture(queues_.get(), workers_.get(), workflows_.get());
}

Counts Fuzzer::Read() {
  v1::SystemStatsResponse stats;
  grpc::Status status =
      Unary(admin_.get(), &v1::AdminService::Stub::SystemStats, v1::SystemStatsRequest(), &stats);
  if (!status.ok()) {
    std::cerr << "fuzz: SystemStats failed: " << status.error_message() << "\n";
    std::exit(1);
  }
  return {stats.queues(), stats.workers(),
          stats.pending() + stats.delayed() + stats.in_flight() + stats.dead() + stats.archived()};
}

grpc::Status Fuzzer::Send(const Input& input) {
  grpc::Slice slice(input.bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  std::promise<grpc::Status> done;
  generic_.UnaryCall(&context, input.method->path, grpc::StubOptions(), &request, &response,
                     [&done](grpc::Status status) { done.set_value(std::move(status)); });
  return done.get_future().get();
}

Input Fuzzer::Next(RequestGenerator& gen) {
  Input input;
  if (!corpus_.empty() && gen.Pick(10) == 0) {
    input = corpus_[gen.Pick(corpus_.size())];
  } else {
    input.method = &methods_[gen.Pick(methods_.size())];
    input.bytes = gen.Generate(input.method->input);
  }
  if (gen.Pick(4) == 0) input.bytes = gen.Mutate(std::move(input.bytes));
  return input;
}

bool Fuzzer::Run(uint64_t seed, int64_t iterations, absl::Time deadline) {
  RequestGenerator gen(seed, {"", "a", std::string(300, 'q'), std::string(64, 'n'), "fz\n", "FZ",
                              "{}", "[1,2]", "{", "null", R"({"a":"\u0000"})", "\xf0\x9f\x98\x80",
                              "%s%n", "zone=a", "AAAA", std::string(300 * 1024, 'x')});
  for (int64_t i = 0; i < iterations && absl::Now() < deadline; ++i, ++total_) {
    if (i % 200 == 0) {
      for (std::string& word : Fixture()) gen.AddToDictionary(std::move(word));
    }
    Input input = Next(gen);
    Counts before = Read();
    grpc::Status status = Send(input);
    ++codes_[absl::StrCat(status.error_code())];
    if (status.ok() || status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) continue;
    // Not a refusal: a lease-holder write to a CANCELLING run finalises it CANCELLED (its
    // trigger message is deleted) and reports CANCELLED (storage/store.h, the run state machine).
    if (status.error_code() == grpc::StatusCode::CANCELLED &&
        absl::StartsWith(input.method->path, "/pgqrs.v1.WorkflowService/")) {
      continue;
    }
    Counts after = Read();
    if (after == before) continue;
    std::cerr << "fuzz: FAIL: a refused request changed the store (seed " << seed << ", iteration "
              << i << ")\n  " << input.method->path << " -> " << status.error_code() << ": "
              << status.error_message() << "\n  before " << Describe(before) << "\n  after  "
              << Describe(after) << "\n  request bytes "
              << absl::BytesToHexString(input.bytes.substr(0, 512)) << "\n";
    return false;
  }
  return true;
}

// `SEED ITERATIONS` lines; # starts a comment.
std::vector<std::pair<uint64_t, int64_t>> LoadRegressions(const std::string& path) {
  std::vector<std::pair<uint64_t, int64_t>> seeds;
  if (path.empty()) return seeds;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    uint64_t seed = 0;
    int64_t iterations = 0;
    if (fields >> seed >> iterations) seeds.emplace_back(seed, iterations);
  }
  return seeds;
}

int Main() {
  server::SetUpLogging("error", "text");
  // Protobuf logs every string field with invalid UTF-8 it refuses to parse: expected here.
  pb::SetLogHandler([](pb::LogLevel, const char*, int, const std::string&) {});
  server::Config config;
  config.listen = "127.0.0.1:0";
  config.dsn = "sqlite::memory:";
  config.executor_threads = 2;
  config.limits.max_wait = absl::Milliseconds(20);  // long-polls must not stall the loop
  absl::StatusOr<std::unique_ptr<server::Server>> server = server::Server::Start(config);
  if (!server.ok()) {
    std::cerr << "fuzz: server did not start: " << server.status() << "\n";
    return 2;
  }
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                                     grpc::InsecureChannelCredentials());
  std::vector<Method> methods = AllMethods();
  Fuzzer fuzzer(channel, methods, LoadCorpus(absl::GetFlag(FLAGS_corpus), methods));

  bool ok = true;
  for (auto [seed, iterations] : LoadRegressions(absl::GetFlag(FLAGS_regressions))) {
    ok = ok && fuzzer.Run(seed, iterations, absl::InfiniteFuture());
  }
  uint64_t seed = absl::GetFlag(FLAGS_seed);
  if (seed == 0) seed = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  std::cerr << "fuzz: timed run with seed " << seed << "\n";
  ok = ok && fuzzer.Run(seed, std::numeric_limits<int64_t>::max(),
                        absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_seconds)));
  std::cerr << "fuzz: " << fuzzer.total() << " requests over " << methods.size()
            << " methods; by status code:";
  for (const auto& [code, count] : fuzzer.codes()) std::cerr << " " << code << "=" << count;
  std::cerr << "\n";
  (*server)->Shutdown();
  std::cerr << (ok ? "fuzz: PASS\n" : "fuzz: FAIL\n");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace pgqrs::fuzz

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return pgqrs::fuzz::Main();
}
