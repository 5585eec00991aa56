// Authentication and authorization on the real daemon: every RPC of every service, from
// the services' descriptors, is called with no token, an unknown token, a token of the
// wrong role, a token whose name patterns exclude the target, and an allowed token. The
// first four are refused with the right code and store nothing; no token appears in the
// daemon's log or in an error.
#include <grpcpp/generic/generic_stub.h>
#include <signal.h>

#include <fstream>
#include <thread>

#include "server/access_rules.h"
#include "server/tokens.h"
#include "tests/integration/client.h"

namespace pgqrs::testing {
namespace {

using google::protobuf::Message;
using google::protobuf::MethodDescriptor;
using server::AccessRule;
using server::Role;
using server::RoleBit;

constexpr Role kNonAdminRoles[] = {Role::kProducer, Role::kConsumer, Role::kWorker, Role::kReader};

struct Token {
  std::string name;
  std::string secret;
};

// One token per role, all limited to names matching "orders.*", plus an admin for every
// name. Writes the tokens file and returns the tokens by role.
std::map<Role, Token> WriteTokensFile(const std::string& path) {
  std::map<Role, Token> tokens;
  std::ofstream out(path);
  out << "# name sha256 roles globs\n";
  for (Role role : {Role::kAdmin, Role::kProducer, Role::kConsumer, Role::kWorker, Role::kReader}) {
    Token token{std::string(server::RoleName(role)) + "-token", *server::NewToken()};
    std::vector<std::string> globs = {role == Role::kAdmin ? "*" : "orders.*"};
    out << server::TokenFileLine(token.name, server::HashToken(token.secret), RoleBit(role), globs)
        << "\n";
    tokens[role] = token;
  }
  return tokens;
}

std::vector<const MethodDescriptor*> AllMethods() {
  std::vector<const MethodDescriptor*> methods;
  for (const google::protobuf::FileDescriptor* fd :
       {v1::EnqueueRequest::descriptor()->file(), v1::RegisterWorkerRequest::descriptor()->file(),
        v1::MigrateRequest::descriptor()->file(), v1::StartRunRequest::descriptor()->file()}) {
    for (int s = 0; s < fd->service_count(); ++s) {
      for (int m = 0; m < fd->service(s)->method_count(); ++m) {
        methods.push_back(fd->service(s)->method(m));
      }
    }
  }
  return methods;
}

std::string FullName(const MethodDescriptor* method) {
  return "/" + method->service()->full_name() + "/" + method->name();
}

// The method's request with its target name (if the rule has one) set to `target`.
std::string RequestBytes(const MethodDescriptor* method, const AccessRule& rule,
                         const std::string& target) {
  std::unique_ptr<Message> request(google::protobuf::MessageFactory::generated_factory()
                                       ->GetPrototype(method->input_type())
                                       ->New());
  if (rule.name_field != nullptr) {
    const auto* field = method->input_type()->FindFieldByName(rule.name_field);
    request->GetReflection()->SetString(request.get(), field, target);
  }
  return request->SerializeAsString();
}

// Calls `method` with raw request bytes and an optional bearer token.
grpc::Status CallRaw(grpc::GenericStub& stub, const MethodDescriptor* method,
                     const std::string& request, const std::string& token) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response;
  grpc::CompletionQueue cq;
  auto call = stub.PrepareUnaryCall(&context, FullName(method), request_buffer, &cq);
  call->StartCall();
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  REQUIRE(cq.Next(&tag, &ok));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

// What the admin sees of the store: any write a refused call made would change it.
std::string Snapshot(Client& client, const std::string& admin_token) {
  auto call = [&](auto& stub, auto method, const auto& request, auto* response) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + admin_token);
    REQUIRE((stub.*method)(&context, request, response).ok());
    return response->ShortDebugString();
  };
  v1::SystemStatsResponse stats;
  v1::ListQueuesResponse queues;
  v1::ListWorkersResponse workers;
  v1::ListRunsResponse runs;
  v1::ListWorkflowsResponse workflows;
  v1::ListDeadLettersRequest dead_request;
  dead_request.set_queue("orders.a");
  v1::ListDeadLettersResponse dead;
  return call(*client.admin, &v1::AdminService::Stub::SystemStats, v1::SystemStatsRequest(),
              &stats) +
         call(*client.queues, &v1::QueueService::Stub::ListQueues, v1::ListQueuesRequest(),
              &queues) +
         call(*client.workers, &v1::WorkerService::Stub::ListWorkers, v1::ListWorkersRequest(),
              &workers) +
         call(*client.workflows, &v1::WorkflowService::Stub::ListRuns, v1::ListRunsRequest(),
              &runs) +
         call(*client.workflows, &v1::WorkflowService::Stub::ListWorkflows,
              v1::ListWorkflowsRequest(), &workflows) +
         call(*client.queues, &v1::QueueService::Stub::ListDeadLetters, dead_request, &dead);
}

// A store with something to lose: a queue with a message, a dead letter, a workflow run,
// a worker.
void Populate(Client& client, const std::string& admin_token) {
  auto with_token = [&](grpc::ClientContext& context) {
    context.AddMetadata("authorization", "Bearer " + admin_token);
  };
  grpc::ClientContext c1, c2, c3, c4;
  with_token(c1);
  with_token(c2);
  with_token(c3);
  with_token(c4);
  v1::CreateQueueRequest queue;
  queue.set_name("orders.a");
  v1::Queue queue_response;
  REQUIRE(client.queues->CreateQueue(&c1, queue, &queue_response).ok());
  v1::EnqueueRequest enqueue;
  enqueue.set_queue("orders.a");
  enqueue.add_messages()->set_payload_json("1");
  v1::EnqueueResponse enqueue_response;
  REQUIRE(client.queues->Enqueue(&c2, enqueue, &enqueue_response).ok());
  v1::CreateWorkflowRequest workflow;
  workflow.set_name("orders.wf");
  v1::Workflow workflow_response;
  REQUIRE(client.workflows->CreateWorkflow(&c3, workflow, &workflow_response).ok());
  v1::StartRunRequest run;
  run.set_workflow("orders.wf");
  run.set_input_json("{}");
  v1::Run run_response;
  REQUIRE(client.workflows->StartRun(&c4, run, &run_response).ok());
}

bool IsAuthRefusal(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAUTHENTICATED || code == grpc::StatusCode::PERMISSION_DENIED;
}

TEST_CASE("every RPC is refused without the right token and allowed with it",
          "[integration][auth]") {
  std::string tokens_file = TempPath("tokens");
  std::map<Role, Token> tokens = WriteTokensFile(tokens_file);
  const std::string admin = tokens[Role::kAdmin].secret;
  Daemon daemon({"--dsn=sqlite://" + TempPath("auth.db"), "--auth_tokens_file=" + tokens_file,
                 "--log_level=debug"});
  Client client(daemon);
  Populate(client, admin);
  const std::string before = Snapshot(client, admin);
  grpc::GenericStub stub(daemon.Channel());
  std::vector<std::string> errors;
  int refusals = 0;

  std::vector<const MethodDescriptor*> methods = AllMethods();
  REQUIRE(methods.size() >= 43);
  for (const MethodDescriptor* method : methods) {
    const AccessRule* rule = server::FindAccessRule(FullName(method));
    REQUIRE(rule != nullptr);
    std::string inside = RequestBytes(method, *rule, "orders.a");
    auto expect = [&](const std::string& request, const std::string& token, grpc::StatusCode code,
                      const char* what) {
      INFO(FullName(method) << ": " << what);
      grpc::Status status = CallRaw(stub, method, request, token);
      CHECK(status.error_code() == code);
      errors.push_back(status.error_message());
      ++refusals;
    };
    expect(inside, "", grpc::StatusCode::UNAUTHENTICATED, "no token");
    expect(inside, *server::NewToken(), grpc::StatusCode::UNAUTHENTICATED, "unknown token");
    for (Role role : kNonAdminRoles) {
      if (!(rule->roles & RoleBit(role))) {
        expect(inside, tokens[role].secret, grpc::StatusCode::PERMISSION_DENIED, "wrong role");
      }
    }
    if (rule->name_field != nullptr && rule->roles != 0) {
      Role allowed_role = *std::find_if(std::begin(kNonAdminRoles), std::end(kNonAdminRoles),
                                        [&](Role r) { return rule->roles & RoleBit(r); });
      expect(RequestBytes(method, *rule, "billing.a"), tokens[allowed_role].secret,
             grpc::StatusCode::PERMISSION_DENIED, "name outside the token's patterns");
      // An empty name means every name: only a `*` pattern allows that.
      expect(RequestBytes(method, *rule, ""), tokens[allowed_role].secret,
             grpc::StatusCode::PERMISSION_DENIED, "every name");
    }
  }
  CHECK(Snapshot(client, admin) == before);

  // Allowed: the call gets past the guard (it may still fail on its own merits).
  for (const MethodDescriptor* method : methods) {
    const AccessRule* rule = server::FindAccessRule(FullName(method));
    std::string inside = RequestBytes(method, *rule, "orders.a");
    std::vector<std::string> allowed = {admin};
    for (Role role : kNonAdminRoles) {
      if (rule->roles & RoleBit(role)) allowed.push_back(tokens[role].secret);
    }
    for (const std::string& token : allowed) {
      INFO(FullName(method));
      grpc::Status status = CallRaw(stub, method, inside, token);
      CHECK_FALSE(IsAuthRefusal(status.error_code()));
      CHECK(status.error_code() != grpc::StatusCode::UNIMPLEMENTED);
      errors.push_back(status.error_message());
    }
  }

  // Secrets appear nowhere; token names do, in the audit lines.
  std::string log = daemon.Log();
  for (const auto& [role, token] : tokens) {
    CHECK(log.find(token.secret) == std::string::npos);
    CHECK(log.find(token.secret.substr(6, 16)) == std::string::npos);
    for (const std::string& e : errors) CHECK(e.find(token.secret) == std::string::npos);
  }
  CHECK(log.find("audit: denied /pgqrs.v1.QueueService/PurgeQueue on \"orders.a\"") !=
        std::string::npos);
  CHECK(log.find("may not call /pgqrs.v1.QueueService/PurgeQueue") != std::string::npos);
  CHECK(log.find("audit: /pgqrs.v1.QueueService/PurgeQueue on \"orders.a\" by token admin-token") !=
        std::string::npos);
  WARN(refusals << " refusals checked over " << methods.size() << " RPCs");
}

// Opens `method` on `stub` with `token`; the context outlives the stream.
template <typename Request, typename Response>
std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> OpenStream(
    grpc::ClientContext& context, const std::string& token,
    std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> (v1::QueueService::Stub::*method)(
        grpc::ClientContext*),
    v1::QueueService::Stub& stub) {
  context.AddMetadata("authorization", "Bearer " + token);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  return (stub.*method)(&context);
}

TEST_CASE("streams check the queue of each request against the token", "[integration][auth]") {
  std::string tokens_file = TempPath("tokens");
  std::map<Role, Token> tokens = WriteTokensFile(tokens_file);
  const std::string admin = tokens[Role::kAdmin].secret;
  Daemon daemon(
      {"--dsn=sqlite://" + TempPath("stream-auth.db"), "--auth_tokens_file=" + tokens_file});
  Client client(daemon);
  Populate(client, admin);  // orders.a holds one message

  SECTION("Publish: a request outside the token's names ends the stream") {
    grpc::ClientContext context;
    auto stream = OpenStream(context, tokens[Role::kProducer].secret,
                             &v1::QueueService::Stub::Publish, *client.queues);
    v1::PublishRequest inside;
    inside.set_sequence(1);
    inside.set_queue("orders.a");
    inside.add_messages()->set_payload_json("2");
    REQUIRE(stream->Write(inside));
    v1::PublishResponse response;
    REQUIRE(stream->Read(&response));
    CHECK(response.sequence() == 1);
    CHECK(response.error_code() == 0);
    v1::PublishRequest outside = inside;
    outside.set_sequence(2);
    outside.set_queue("billing.a");
    stream->Write(outside);
    CHECK_FALSE(stream->Read(&response));
    grpc::Status status = stream->Finish();
    CHECK(status.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(status.error_message().find("billing.a") != std::string::npos);
  }
  SECTION("Consume: the queue it opens on must be the token's; it stays on that queue") {
    grpc::ClientContext refused_context;
    auto refused = OpenStream(refused_context, tokens[Role::kConsumer].secret,
                              &v1::QueueService::Stub::Consume, *client.queues);
    v1::ConsumeRequest open;
    open.set_queue("billing.a");
    open.set_add_credits(1);
    refused->Write(open);
    v1::ConsumeResponse response;
    CHECK_FALSE(refused->Read(&response));
    CHECK(refused->Finish().error_code() == grpc::StatusCode::PERMISSION_DENIED);

    grpc::ClientContext context;
    auto stream = OpenStream(context, tokens[Role::kConsumer].secret,
                             &v1::QueueService::Stub::Consume, *client.queues);
    open.set_queue("orders.a");
    REQUIRE(stream->Write(open));
    REQUIRE(stream->Read(&response));
    CHECK(response.messages_size() == 1);
    v1::ConsumeRequest elsewhere;
    elsewhere.set_queue("billing.a");
    stream->Write(elsewhere);
    CHECK_FALSE(stream->Read(&response));
    CHECK(stream->Finish().error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  }
  SECTION("a token without the role cannot open the stream") {
    grpc::ClientContext context;
    auto stream = OpenStream(context, tokens[Role::kReader].secret,
                             &v1::QueueService::Stub::Consume, *client.queues);
    v1::ConsumeResponse response;
    CHECK_FALSE(stream->Read(&response));
    CHECK(stream->Finish().error_code() == grpc::StatusCode::PERMISSION_DENIED);
  }
}

TEST_CASE("SIGHUP reloads the tokens file", "[integration][auth]") {
  std::string tokens_file = TempPath("tokens");
  std::map<Role, Token> tokens = WriteTokensFile(tokens_file);
  Daemon daemon({"--dsn=sqlite::memory:", "--auth_tokens_file=" + tokens_file});
  grpc::GenericStub stub(daemon.Channel());
  const MethodDescriptor* info = v1::MigrateRequest::descriptor()
                                     ->file()
                                     ->FindServiceByName("AdminService")
                                     ->FindMethodByName("GetServerInfo");
  REQUIRE(CallRaw(stub, info, "", tokens[Role::kReader].secret).ok());

  // A new file: the reader token is gone, a new one is in.
  std::string fresh = *server::NewToken();
  {
    std::ofstream out(tokens_file);
    out << server::TokenFileLine("fresh", server::HashToken(fresh), RoleBit(Role::kReader), {"*"})
        << "\n";
  }
  kill(daemon.pid(), SIGHUP);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!CallRaw(stub, info, "", fresh).ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(CallRaw(stub, info, "", fresh).ok());
  CHECK(CallRaw(stub, info, "", tokens[Role::kReader].secret).error_code() ==
        grpc::StatusCode::UNAUTHENTICATED);

  // A broken file keeps the tokens in force.
  {
    std::ofstream out(tokens_file);
    out << "garbage\n";
  }
  kill(daemon.pid(), SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(CallRaw(stub, info, "", fresh).ok());
  CHECK(daemon.Log().find("SIGHUP: kept the tokens in force") != std::string::npos);
}

TEST_CASE("the CLI and pgqrs-bench send a token from a file or PGQRS_TOKEN",
          "[integration][auth]") {
  std::string tokens_file = TempPath("tokens");
  std::map<Role, Token> tokens = WriteTokensFile(tokens_file);
  Daemon daemon({"--dsn=sqlite://" + TempPath("cli-auth.db"), "--auth_tokens_file=" + tokens_file});
  std::string admin_file = TempPath("admin-token");
  std::ofstream(admin_file) << tokens[Role::kAdmin].secret << "\n";
  std::string producer_file = TempPath("producer-token");
  std::ofstream(producer_file) << tokens[Role::kProducer].secret << "\n";
  std::string pgqrs = Runfile("tools/pgqrs/pgqrs") + " --server=" + daemon.address();
  std::string out, err;

  auto [code, output] = RunCommand(pgqrs + " queue create orders.x", &err);
  CHECK(code == 1);
  CHECK(err.find("UNAUTHENTICATED") != std::string::npos);
  std::tie(code, output) =
      RunCommand(pgqrs + " --token-file=" + admin_file + " queue create orders.x", &err);
  CHECK(code == 0);
  std::tie(code, output) = RunCommand(
      "PGQRS_TOKEN=" + tokens[Role::kProducer].secret + " " + pgqrs + " send orders.x 1", &err);
  CHECK(code == 0);
  std::tie(code, output) =
      RunCommand(pgqrs + " --token-file=" + producer_file + " queue purge orders.x", &err);
  CHECK(code == 1);
  CHECK(err.find("PERMISSION_DENIED") != std::string::npos);
  CHECK(err.find(tokens[Role::kProducer].secret) == std::string::npos);

  std::string bench = Runfile("tools/bench/pgqrs-bench") + " --server=" + daemon.address() +
                      " --scenario=enqueue --producers=1 --consumers=1 --warmup=0s"
                      " --duration=1s --queue=orders.x --progress=false";
  std::tie(code, output) = RunCommand(bench, &err);
  CHECK(code != 0);
  CHECK(err.find("UNAUTHENTICATED") != std::string::npos);
  // The benchmark creates its queue if needed: an admin's work.
  std::tie(code, output) = RunCommand(bench + " --token_file=" + admin_file, &err);
  INFO(err);
  CHECK(code == 0);
  CHECK(output.find(tokens[Role::kAdmin].secret) == std::string::npos);
  CHECK(err.find(tokens[Role::kAdmin].secret) == std::string::npos);
}

TEST_CASE("a daemon with a missing tokens file does not start", "[integration][auth]") {
  std::string err;
  int code = RunCommand(Runfile("server/pgqrsd") +
                            " --dsn=sqlite::memory: --auth_tokens_file=/nonexistent/tokens",
                        &err)
                 .first;
  CHECK(code != 0);
  CHECK(err.find("/nonexistent/tokens") != std::string::npos);
}

}  // namespace
}  // namespace pgqrs::testing
