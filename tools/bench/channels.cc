#include "tools/bench/channels.h"

namespace pgqrs::bench {

std::shared_ptr<grpc::Channel> NewChannel(const std::string& server,
                                          const client::ClientIdentity& identity, int index) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("pgqrs.bench.connection", index);  // a distinct key: a distinct connection
  args.SetMaxReceiveMessageSize(-1);
  return client::NewClientChannel(server, identity, args);
}

absl::Status ToAbsl(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace pgqrs::bench
