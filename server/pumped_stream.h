// A pumped bidirectional stream: gRPC's callbacks only record what arrived and kick the
// stream's one worker, the pump, which runs on the executor (never two passes at once), does
// the stream's storage work, and finishes the stream once it has ended and owes nothing.
//
// The base holds what every such stream does alike: its lifetime (alive from Start until
// gRPC's OnDone), the pump's scheduling, the write queue (one write in flight, in order),
// and the stream's end. A stream adds its reads, its pump pass and the hooks below.
//
// Ending: End(status, answer) records the first status. With `answer` (a half-close, a
// shutdown), queued responses and those the stream still owes go out before it finishes;
// without (a cancel, a failed write, an error), nothing more is written. A later End can
// only take `answer` away. Once ending, the pump finishes the stream as soon as no write is
// queued or in flight and the stream owes no work (OwesWorkLocked): OnFinish runs, then
// gRPC gets the status.
//
// Thread safety: mu_ guards the base's state and the stream's own; hooks named *Locked run
// with it held, the others without.
#pragma once

#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "server/call.h"
#include "server/executor.h"

namespace pgqrs::server {

template <typename Request, typename Response>
class PumpedStream : public grpc::ServerBidiReactor<Request, Response>,
                     public std::enable_shared_from_this<PumpedStream<Request, Response>> {
 public:
  // Starts the first read. The stream keeps itself alive until gRPC is done with it (OnDone);
  // pump passes and the stream's own callbacks hold their own references.
  void Start() {
    self_ = this->shared_from_this();
    ReadNext();
  }

  void OnWriteDone(bool ok) final;
  void OnCancel() final { End(grpc::Status::CANCELLED, /*answer=*/false); }
  void OnDone() final { self_.reset(); }

 protected:
  explicit PumpedStream(Executor& executor) : executor_(executor) {}

  // One pass of the stream's work. Returns true to run another pass at once; false lets the
  // pump stop until the next Kick.
  virtual bool PumpOnce() = 0;
  // Whether the stream still has work to do before an ending stream may finish, besides
  // writing what is queued.
  virtual bool OwesWorkLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  // The stream is ending, with `answer` as End describes; drops what that end makes moot,
  // from the stream's own state or the responses queued in `outbox`. Called again when a
  // later End takes `answer` away (the base has then emptied `outbox`).
  virtual void OnEndLocked(bool /*answer*/, std::deque<Response>& /*outbox*/)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {}
  // `response` was written (`ok`) or failed to be (the stream then ends without answering).
  virtual void OnWrittenLocked(const Response& /*response*/, bool /*ok*/)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {}
  // Runs after every write completes, once the next one started.
  virtual void AfterWrite() {}
  // Runs once when the stream finishes, before gRPC gets its status.
  virtual void OnFinish() {}

  // The request the last read filled; the stream reads it before the next ReadNext.
  const Request& request() const { return request_; }
  void ReadNext() { this->StartRead(&request_); }

  // Ends the stream (see the top of this file) and kicks the pump to finish it.
  void End(const grpc::Status& status, bool answer);
  void EndLocked(const grpc::Status& status, bool answer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool EndingLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ending_.has_value(); }
  // Queues `response` for writing, unless the stream ends without answering.
  void QueueLocked(Response response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes the next queued response unless a write is in flight.
  void WriteNext();
  // Runs the pump on the executor unless it runs already (then it runs another pass). When
  // the executor is saturated, ends the stream with RESOURCE_EXHAUSTED and pumps here.
  void Kick();

  absl::Mutex mu_;

 private:
  void Pump();
  // Marks the stream finished and returns its status when it ended and owes nothing.
  std::optional<grpc::Status> TakeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Executor& executor_;
  std::shared_ptr<PumpedStream> self_;
  // The read in flight; only gRPC's read callbacks and the stream's reads touch it.
  Request request_;
  // The write in flight; only the writer (writing_ set) touches it.
  Response write_buffer_;

  std::deque<Response> outbox_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool pumping_ ABSL_GUARDED_BY(mu_) = false;
  bool pump_again_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> ending_ ABSL_GUARDED_BY(mu_);
  bool answer_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// Implementation.

template <typename Request, typename Response>
void PumpedStream<Request, Response>::End(const grpc::Status& status, bool answer) {
  {
    absl::MutexLock lock(&mu_);
    EndLocked(status, answer);
  }
  Kick();
}

template <typename Request, typename Response>
void PumpedStream<Request, Response>::EndLocked(const grpc::Status& status, bool answer) {
  if (finished_) return;
  if (!ending_) {
    ending_ = status;
    answer_ = answer;
  }
  answer_ = answer_ && answer;
  if (!answer_) outbox_.clear();
  OnEndLocked(answer_, outbox_);
}

template <typename Request, typename Response>
void PumpedStream<Request, Response>::QueueLocked(Response response) {
  if (!ending_ || answer_) outbox_.push_back(std::move(response));
}

template <typename Request, typename Response>
void PumpedStream<Request, Response>::Kick() {
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    if (pumping_) {
      pump_again_ = true;
      return;
    }
    pumping_ = true;
  }
  std::shared_ptr<PumpedStream> self = this->shared_from_this();
  if (executor_.Submit([self] { self->Pump(); })) return;
  {
    absl::MutexLock lock(&mu_);
    EndLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, kOverloaded), false);
  }
  Pump();
}

template <typename Request, typename Response>
void PumpedStream<Request, Response>::Pump() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      pump_again_ = false;  // a Kick from here on asks for another pass
    }
    bool again = PumpOnce();
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      finish = TakeFinishLocked();
      if (!finish && !again && !pump_again_) {
        pumping_ = false;
        return;
      }
    }
    if (finish) {
      OnFinish();
      this->Finish(*finish);
      return;
    }
  }
}

template <typename Request, typename Response>
std::optional<grpc::Status> PumpedStream<Request, Response>::TakeFinishLocked() {
  if (!ending_ || writing_ || !outbox_.empty() || OwesWorkLocked()) return std::nullopt;
  finished_ = true;
  return *ending_;
}

template <typename Request, typename Response>
void PumpedStream<Request, Response>::WriteNext() {
  {
    absl::MutexLock lock(&mu_);
    if (writing_ || outbox_.empty() || finished_) return;
    writing_ = true;
    write_buffer_ = std::move(outbox_.front());
    outbox_.pop_front();
  }
  this->StartWrite(&write_buffer_);
}

template <typename Request, typename Response>
void PumpedStream<Request, Response>::OnWriteDone(bool ok) {
  bool ending;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    OnWrittenLocked(write_buffer_, ok);
    if (!ok) EndLocked(grpc::Status::CANCELLED, /*answer=*/false);
    ending = ending_.has_value();
  }
  WriteNext();
  AfterWrite();
  if (ending) Kick();  // an ending stream may finish now
}

}  // namespace pgqrs::server
