// A Store workload that leaves data in every state (queues, messages pending, delayed, in
// flight, dead and archived, workers, workflows with steps), a dump of everything a Store
// shows about it, and libsqlite3's checks of a database file. Shared by the tests that move a
// file between the engine:// and sqlite:// adapters.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "storage/store.h"

namespace pgqrs::testing {

// What Populate made and the next adapter continues with.
struct Population {
  std::vector<int64_t> message_ids;  // of queue "jobs"
  storage::Lease in_flight;          // a live lease on a message of "jobs"
  int64_t worker_id = 0;             // a consumer of "jobs" holding `in_flight`
  storage::RunLease running;         // a claimed run of workflow "flow", one step completed
  int64_t queued_run = 0;            // a run of "flow" nobody claimed yet
};

// REQUIREs every call to succeed.
Population Populate(storage::Store& store);

// Uses the population from another adapter: acks the lease, finishes the running run (its
// completed step replays), claims and finishes the queued one, dedups against an old key,
// redrives the dead letters and enqueues more. REQUIREs the expected outcomes.
void Continue(storage::Store& store, Population& population);

// Everything the Store reports about queues "jobs" and "flow", their messages, workers, runs
// and steps, as text (one fact a line), for comparing two adapters' view of one file.
std::string Dump(storage::Store& store, const Population& population);

// libsqlite3 on `path`: PRAGMA integrity_check rows ("ok" when fine) and the rows of
// PRAGMA foreign_key_check (empty when fine), one string each.
// Every row `sql` returns from libsqlite3 on `path`, columns joined by '|'.
std::vector<std::string> SqliteRows(const std::string& path, const std::string& sql);
std::vector<std::string> SqliteIntegrityCheck(const std::string& path);
std::vector<std::string> SqliteForeignKeyCheck(const std::string& path);

}  // namespace pgqrs::testing
