// Every RPC of the pgqrs services has an access rule, and each rule's fields exist in the
// method's request: a new RPC without a rule fails here.
#include "server/access_rules.h"

#include <google/protobuf/descriptor.h>

#include <catch2/catch.hpp>

#include "proto/pgqrs/v1/admin.grpc.pb.h"
#include "proto/pgqrs/v1/queue.grpc.pb.h"
#include "proto/pgqrs/v1/worker.grpc.pb.h"
#include "proto/pgqrs/v1/workflow.grpc.pb.h"

namespace pgqrs::server {
namespace {

using google::protobuf::FieldDescriptor;

std::vector<const google::protobuf::MethodDescriptor*> AllMethods() {
  std::vector<const google::protobuf::MethodDescriptor*> methods;
  // Every service in each of the API's proto files.
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

TEST_CASE("every RPC of every service has an access rule", "[server][auth]") {
  std::vector<const google::protobuf::MethodDescriptor*> methods = AllMethods();
  CHECK(methods.size() >= 43);
  for (const auto* method : methods) {
    std::string name = "/" + method->service()->full_name() + "/" + method->name();
    INFO(name);
    const AccessRule* rule = FindAccessRule(name);
    REQUIRE(rule != nullptr);
    if (rule->name_field != nullptr) {
      const FieldDescriptor* field = method->input_type()->FindFieldByName(rule->name_field);
      REQUIRE(field != nullptr);
      CHECK(field->type() == FieldDescriptor::TYPE_STRING);
    }
    if (rule->long_poll == LongPoll::kWhenWaiting) {
      const FieldDescriptor* wait = method->input_type()->FindFieldByName("wait_ms");
      REQUIRE(wait != nullptr);
      CHECK(wait->type() == FieldDescriptor::TYPE_INT64);
    }
  }
}

TEST_CASE("unknown methods have no rule", "[server][auth]") {
  CHECK(FindAccessRule("/pgqrs.v1.QueueService/NoSuchCall") == nullptr);
  CHECK(FindAccessRule("/grpc.health.v1.Health/Check") == nullptr);
}

TEST_CASE("destructive calls are admin-only and audited", "[server][auth]") {
  for (const char* method :
       {"/pgqrs.v1.QueueService/PurgeQueue", "/pgqrs.v1.QueueService/DeleteQueue",
        "/pgqrs.v1.QueueService/Redrive", "/pgqrs.v1.AdminService/Migrate",
        "/pgqrs.v1.AdminService/ReclaimWorkers"}) {
    INFO(method);
    const AccessRule* rule = FindAccessRule(method);
    REQUIRE(rule != nullptr);
    CHECK(rule->roles == 0);
    CHECK(rule->audited);
  }
}

}  // namespace
}  // namespace pgqrs::server
