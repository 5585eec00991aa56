// Timestamps of the file stores (sqlite:// and engine://): INTEGER microseconds since the
// Unix epoch, UTC, as migrations/sqlite/ declares them. Both adapters convert through here
// so one file reads the same under either.
#pragma once

#include <cstdint>

#include "absl/time/time.h"
#include "storage/clock.h"

namespace pgqrs::storage {

inline int64_t NowMicros(const Clock& clock) { return absl::ToUnixMicros(clock.Now()); }
inline absl::Time FromMicros(int64_t micros) { return absl::FromUnixMicros(micros); }
inline int64_t ToMicros(absl::Duration duration) { return absl::ToInt64Microseconds(duration); }

}  // namespace pgqrs::storage
