#include "server/call_guard.h"

#include <spdlog/spdlog.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace pgqrs::server {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

std::optional<std::string> TargetName(const AccessRule& rule, const Message& request) {
  if (rule.name_field == nullptr) return std::nullopt;
  const FieldDescriptor* field = request.GetDescriptor()->FindFieldByName(rule.name_field);
  if (field == nullptr || field->type() != FieldDescriptor::TYPE_STRING) return std::nullopt;
  return request.GetReflection()->GetString(request, field);
}

bool ParksCall(const AccessRule& rule, const Message& request) {
  switch (rule.long_poll) {
    case LongPoll::kNever:
      return false;
    case LongPoll::kAlways:
      return true;
    case LongPoll::kWhenWaiting: {
      const FieldDescriptor* field = request.GetDescriptor()->FindFieldByName("wait_ms");
      return field != nullptr && request.GetReflection()->GetInt64(request, field) > 0;
    }
  }
  return false;
}

std::string Describe(const std::optional<std::string>& target) {
  return target ? absl::StrCat(" on \"", *target, "\"") : "";
}

class CallEndInterceptor : public grpc::experimental::Interceptor {
 public:
  CallEndInterceptor(CallGuard& guard, const grpc::ServerContextBase* context)
      : guard_(guard), context_(context) {}
  ~CallEndInterceptor() override { guard_.OnCallEnd(context_); }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    methods->Proceed();
  }

 private:
  CallGuard& guard_;
  const grpc::ServerContextBase* const context_;
};

class CallEndFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallEndFactory(CallGuard& guard) : guard_(guard) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new CallEndInterceptor(guard_, info->server_context());
  }

 private:
  CallGuard& guard_;
};

}  // namespace

absl::StatusOr<std::string> CallGuard::Authorize(grpc::CallbackServerContext* context,
                                                 absl::string_view method, const AccessRule& rule,
                                                 const std::optional<std::string>& target) {
  if (authorizer_ == nullptr) return std::string("-");
  absl::StatusOr<std::string> token_name = authorizer_->Check(*context, method, rule, target);
  if (!token_name.ok()) {
    spdlog::warn("audit: denied {}{} from {}: {}", std::string(method), Describe(target),
                 context->peer(), token_name.status().ToString());
  }
  return token_name;
}

absl::Status CallGuard::Check(grpc::CallbackServerContext* context, absl::string_view method,
                              const Message& request) {
  const AccessRule* rule = FindAccessRule(method);
  if (rule == nullptr) {
    return absl::PermissionDeniedError(absl::StrCat(method, " has no access rule"));
  }
  std::optional<std::string> target = TargetName(*rule, request);
  PGQRS_ASSIGN_OR_RETURN(std::string caller, Authorize(context, method, *rule, target));
  if (ParksCall(*rule, request)) {
    const grpc::ServerContextBase* call = context;  // the key OnCallEnd releases
    PGQRS_RETURN_IF_ERROR(long_polls_.Admit(call, context->peer()));
  }
  if (rule->audited) {
    spdlog::info("audit: {}{} by token {} from {}", std::string(method), Describe(target), caller,
                 context->peer());
  }
  return absl::OkStatus();
}

absl::Status CallGuard::CheckStreamOpen(grpc::CallbackServerContext* context,
                                        absl::string_view method) {
  const AccessRule* rule = FindAccessRule(method);
  if (rule == nullptr) {
    return absl::PermissionDeniedError(absl::StrCat(method, " has no access rule"));
  }
  PGQRS_RETURN_IF_ERROR(Authorize(context, method, *rule, std::nullopt).status());
  if (rule->long_poll == LongPoll::kAlways) {
    const grpc::ServerContextBase* call = context;  // the key OnCallEnd releases
    PGQRS_RETURN_IF_ERROR(long_polls_.Admit(call, context->peer()));
  }
  return absl::OkStatus();
}

absl::Status CallGuard::CheckStreamMessage(grpc::CallbackServerContext* context,
                                           absl::string_view method, const Message& request) {
  const AccessRule* rule = FindAccessRule(method);
  if (rule == nullptr) {
    return absl::PermissionDeniedError(absl::StrCat(method, " has no access rule"));
  }
  return Authorize(context, method, *rule, TargetName(*rule, request)).status();
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
CallGuard::CallEndReporter() {
  return std::make_unique<CallEndFactory>(*this);
}

}  // namespace pgqrs::server
