// What each command shows in table mode, and the results that are not single messages.
//
// Column lists are field paths of the proto types (see FieldText in output.h), so table
// headers are the proto field names in upper case.
#pragma once

#include <string>
#include <vector>

#include "proto/pgqrs/v1/common.pb.h"
#include "proto/pgqrs/v1/queue.pb.h"
#include "tools/pgqrs/output.h"

namespace pgqrs::cli {

// pgqrs.v1.Queue in `queue list` and `queue create`.
const std::vector<std::string>& QueueColumns();
// pgqrs.v1.Message as leased by `recv`.
const std::vector<std::string>& ReceivedColumns();
// pgqrs.v1.Message in `dlq list`.
const std::vector<std::string>& DeadLetterColumns();
// pgqrs.v1.Worker in `worker list` and the single-worker commands.
const std::vector<std::string>& WorkerColumns();

// pgqrs.v1.Workflow in `workflow list` and `workflow create`.
const std::vector<std::string>& WorkflowColumns();
// pgqrs.v1.Run in `run list` and the single-run commands.
const std::vector<std::string>& RunColumns();
// pgqrs.v1.Step in `run steps`.
const std::vector<std::string>& StepColumns();

// `send`: a table with one ID per row, or the EnqueueResponse as one JSON line.
void PrintMessageIds(Printer& printer, const v1::EnqueueResponse& response);

// Receipt commands: one row (or JSON line {"receipt", "result"}) per receipt, in order.
// A missing result counts as RECEIPT_RESULT_UNSPECIFIED. Returns how many were not OK.
int PrintReceiptResults(Printer& printer, const std::vector<std::string>& receipts,
                        const v1::ReceiptResponse& response);

}  // namespace pgqrs::cli
