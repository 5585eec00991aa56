// consume: a Consume stream that prints each message as it arrives and acks it.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "tools/pgqrs/commands.h"
#include "tools/pgqrs/errors.h"

namespace pgqrs::cli {
namespace {

constexpr int64_t kDefaultCredits = 10;

v1::ConsumeRequest OpenRequest(const Invocation& inv, int64_t credits) {
  v1::ConsumeRequest open;
  open.set_queue(inv.args.at(0));
  open.set_add_credits(static_cast<int32_t>(credits));
  open.set_visibility_timeout_ms(inv.GetInt("vt-ms"));
  open.set_consumer_worker_id(inv.GetInt("worker-id"));
  return open;
}

int CountFailed(const v1::ConsumeResponse& results) {
  return static_cast<int>(std::count_if(results.ack_results().begin(), results.ack_results().end(),
                                        [](int r) { return r != v1::RECEIPT_RESULT_OK; }));
}

}  // namespace

// Runs until --count messages are printed and acked (or, without it, until the server ends
// the stream or the process is interrupted; the server then releases what it held).
absl::Status RunConsume(const Invocation& inv, Connection& conn, Printer& out) {
  const int64_t count = inv.GetInt("count");
  const int64_t credits = inv.GetInt("credits", kDefaultCredits);
  if (count < 0) return UsageError("--count: must not be negative");
  if (credits < 1 || credits > INT32_MAX) return UsageError("--credits: must be positive");
  grpc::ClientContext context;  // no deadline: the stream lasts as long as it consumes
  auto stream = conn.queues().Consume(&context);
  // With --count, never hold more than it still asks for.
  stream->Write(OpenRequest(inv, count > 0 ? std::min(credits, count) : credits));
  int64_t printed = 0;
  int64_t unanswered = 0;
  int64_t failed = 0;
  v1::ConsumeResponse response;
  while (stream->Read(&response)) {
    if (response.messages_size() == 0) {
      --unanswered;
      failed += CountFailed(response);
    } else {
      v1::ConsumeRequest ack;
      ack.set_request_id(printed);
      for (const v1::Message& m : response.messages()) {
        if (count > 0 && printed == count) break;  // the rest go back when the stream ends
        out.PrintRecord(m);
        ack.add_ack_receipts(m.receipt());
        ++printed;
      }
      if (ack.ack_receipts_size() > 0 && stream->Write(ack)) ++unanswered;
    }
    if (count > 0 && printed == count && unanswered == 0) stream->WritesDone();
  }
  grpc::Status status = stream->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  if (failed > 0) {
    return PartialFailure(absl::StrCat("consume: ", failed, " of ", printed, " acks failed"));
  }
  return absl::OkStatus();
}

}  // namespace pgqrs::cli
