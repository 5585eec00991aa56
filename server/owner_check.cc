#include "server/owner_check.h"

#include "absl/strings/str_cat.h"
#include "server/auth.h"

namespace pgqrs::server {

absl::Status OwnerCheck::Run(const grpc::ServerContextBase& context, int64_t run_id) {
  if (authorizer_ == nullptr) return absl::OkStatus();
  return authorizer_->CheckOwner(context, absl::StrCat("run ", run_id),
                                 [&]() -> absl::StatusOr<std::string> {
                                   absl::StatusOr<storage::RunInfo> run = store_.GetRun(run_id);
                                   if (!run.ok()) return run.status();
                                   return run->workflow;
                                 });
}

absl::Status OwnerCheck::Run(const grpc::ServerContextBase& context, const storage::RunInfo& run) {
  if (authorizer_ == nullptr) return absl::OkStatus();
  return authorizer_->CheckOwner(context, absl::StrCat("run ", run.id),
                                 [&]() -> absl::StatusOr<std::string> { return run.workflow; });
}

absl::Status OwnerCheck::Worker(const grpc::ServerContextBase& context, int64_t worker_id) {
  if (authorizer_ == nullptr) return absl::OkStatus();
  return authorizer_->CheckOwner(
      context, absl::StrCat("worker ", worker_id), [&]() -> absl::StatusOr<std::string> {
        absl::StatusOr<storage::WorkerInfo> worker = store_.GetWorker(worker_id);
        if (!worker.ok()) return worker.status();
        return worker->queue;
      });
}

absl::Status OwnerCheck::Worker(const grpc::ServerContextBase& context,
                                const storage::WorkerInfo& worker) {
  if (authorizer_ == nullptr) return absl::OkStatus();
  return authorizer_->CheckOwner(context, absl::StrCat("worker ", worker.id),
                                 [&]() -> absl::StatusOr<std::string> { return worker.queue; });
}

}  // namespace pgqrs::server
