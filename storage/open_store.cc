#include "storage/open_store.h"

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/dsn.h"
#include "storage/engine/engine_store.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_store.h"

namespace pgqrs::storage {

absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& dsn,
                                                 const StoreOptions& options) {
  PGQRS_ASSIGN_OR_RETURN(Dsn parsed, ParseDsn(dsn));
  switch (parsed.backend) {
    case Backend::kSqlite:
      return OpenSqliteStore(parsed, options);
    case Backend::kPostgres: {
      PostgresOptions postgres;
      postgres.pool_size = options.pool_size;
      postgres.listen_dsn = options.notify_dsn;
      return OpenPostgresStore(parsed, postgres);
    }
    case Backend::kEngine:
      return OpenEngineStore(parsed, options);
  }
  return absl::InternalError(absl::StrCat("no adapter for ", BackendName(parsed.backend)));
}

}  // namespace pgqrs::storage
