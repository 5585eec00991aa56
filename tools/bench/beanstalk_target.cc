#include "tools/bench/beanstalk_target.h"

#include <unistd.h>

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "tools/bench/beanstalk_client.h"

namespace pgqrs::bench {
namespace {

// Time-to-run of a reserved job: like pgqrs' default visibility timeout.
constexpr int kTtrSeconds = 30;

class BeanstalkSession final : public Session {
 public:
  explicit BeanstalkSession(std::unique_ptr<BeanstalkClient> client) : client_(std::move(client)) {}

  absl::Status Enqueue(std::span<const std::string> payloads) override {
    return client_->Put(payloads, kTtrSeconds).status();
  }

  absl::StatusOr<std::vector<Leased>> Dequeue(int max, absl::Duration wait) override {
    // The protocol waits in whole seconds; round up so a short wait still blocks.
    int seconds = static_cast<int>(std::ceil(absl::ToDoubleSeconds(wait)));
    PGQRS_ASSIGN_OR_RETURN(std::vector<BeanstalkClient::Job> jobs, client_->Reserve(max, seconds));
    std::vector<Leased> leased;
    leased.reserve(jobs.size());
    for (BeanstalkClient::Job& job : jobs) {
      leased.push_back({std::move(job.body), absl::StrCat(job.id)});
    }
    return leased;
  }

  absl::Status Ack(std::span<const Leased> messages) override {
    std::vector<uint64_t> ids;
    ids.reserve(messages.size());
    for (const Leased& m : messages) {
      uint64_t id = 0;
      if (!absl::SimpleAtoi(m.handle, &id)) return absl::InternalError("bad beanstalk job id");
      ids.push_back(id);
    }
    return client_->Delete(ids);
  }

 private:
  std::unique_ptr<BeanstalkClient> client_;
};

class BeanstalkTarget final : public Target {
 public:
  explicit BeanstalkTarget(std::string server) : server_(std::move(server)) {}

  std::string name() const override { return "beanstalk"; }

  absl::Status Setup() override {
    tube_ = absl::StrCat("bench-", getpid(), "-", absl::ToUnixMillis(absl::Now()));
    // Fail early when beanstalkd is not there.
    return BeanstalkClient::Connect(server_).status();
  }

  absl::StatusOr<std::unique_ptr<Session>> NewSession() override {
    PGQRS_ASSIGN_OR_RETURN(std::unique_ptr<BeanstalkClient> client,
                           BeanstalkClient::Connect(server_));
    PGQRS_RETURN_IF_ERROR(client->Use(tube_));
    PGQRS_RETURN_IF_ERROR(client->Watch(tube_));
    PGQRS_RETURN_IF_ERROR(client->Ignore("default"));
    return std::make_unique<BeanstalkSession>(std::move(client));
  }

  // Jobs left in the tube stay; the tube name is never reused.
  absl::Status Teardown() override { return absl::OkStatus(); }

 private:
  const std::string server_;
  std::string tube_;
};

}  // namespace

std::unique_ptr<Target> NewBeanstalkTarget(const std::string& server) {
  return std::make_unique<BeanstalkTarget>(server);
}

}  // namespace pgqrs::bench
