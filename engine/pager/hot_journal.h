// Hot rollback journals: `<db>-journal` left behind by an sqlite3 process that crashed in the
// middle of a transaction in a rollback-journal mode (journal_mode=DELETE and friends). The
// database file may then hold some of that transaction's pages; the journal holds their
// original content (fileformat.html section 4.1, "The Rollback Journal").
//
// Thread safety: stateless; the caller must hold the database lock.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "engine/io/io_backend.h"

namespace pgqrs::engine {

// If `journal_path` is a hot journal (it starts with the journal magic), copies every valid
// journaled page back into `db`, truncates `db` to its size before the transaction, syncs it,
// deletes the journal and syncs its directory `dir` -- what sqlite3 does when it opens such a
// database. A journal that is absent or does not start with the magic (e.g. a committed
// journal with a zeroed header) is left alone. When `read_only`, a hot journal is refused
// with FailedPrecondition naming the journal file. DataLoss for an unusable journal header.
absl::Status RollBackHotJournal(IoBackend* backend, File* db, const std::string& journal_path,
                                const std::string& dir, bool read_only);

}  // namespace pgqrs::engine
