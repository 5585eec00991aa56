// Receipts: the opaque strings clients hold for a lease. A receipt encodes a message id
// and its lease's random token as "<id hex>-<token hex>".
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "storage/types.h"

namespace pgqrs::server {

std::string EncodeReceipt(const storage::Lease& lease);

// INVALID_ARGUMENT (naming `field`) for anything EncodeReceipt could not have produced.
absl::StatusOr<storage::Lease> DecodeReceipt(const std::string& field,
                                             const std::string& receipt);

}  // namespace pgqrs::server
