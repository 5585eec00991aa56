// AdminService: migrations, verification, statistics, on-demand reclaim and server info.
#pragma once

#include "proto/pgqrs/v1/admin.grpc.pb.h"
#include "server/call.h"

namespace pgqrs::server {

class AdminServiceImpl final : public v1::AdminService::CallbackService {
 public:
  // `schema_version` is what the store reported at start-up; GetServerInfo answers from
  // memory so it stays the cheapest call.
  AdminServiceImpl(ServiceDeps deps, int32_t schema_version)
      : deps_(deps), schema_version_(schema_version) {}

  grpc::ServerUnaryReactor* Migrate(grpc::CallbackServerContext* ctx,
                                    const v1::MigrateRequest* req,
                                    v1::MigrateResponse* resp) override;
  grpc::ServerUnaryReactor* Verify(grpc::CallbackServerContext* ctx,
                                   const v1::VerifyRequest* req,
                                   v1::VerifyResponse* resp) override;
  grpc::ServerUnaryReactor* SystemStats(grpc::CallbackServerContext* ctx,
                                        const v1::SystemStatsRequest* req,
                                        v1::SystemStatsResponse* resp) override;
  grpc::ServerUnaryReactor* ReclaimWorkers(grpc::CallbackServerContext* ctx,
                                           const v1::ReclaimWorkersRequest* req,
                                           v1::ReclaimWorkersResponse* resp) override;
  grpc::ServerUnaryReactor* GetServerInfo(grpc::CallbackServerContext* ctx,
                                          const v1::GetServerInfoRequest* req,
                                          v1::ServerInfo* resp) override;

 private:
  ServiceDeps deps_;
  const int32_t schema_version_;
};

// The daemon's version, reported by GetServerInfo and `pgqrsd --version`.
inline constexpr char kServerVersion[] = "0.1.0";

}  // namespace pgqrs::server
