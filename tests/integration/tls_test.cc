// TLS and mutual TLS on the real daemon, with certificates made by the openssl CLI at
// test time (make_certs.sh): the right certificates connect, wrong ones and plaintext are
// refused, and a certificate replaced on disk is served without a restart.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/integration/client.h"
#include "tools/client/channel.h"

namespace pgqrs::testing {
namespace {

// A directory of certificates: Make("server") writes server-ca.pem, server-cert.pem and
// server-key.pem.
class Certs {
 public:
  Certs() : dir_(TempPath("certs")) { std::filesystem::create_directories(dir_); }
  void Make(const std::string& name) {
    std::string err;
    auto [code, out] =
        RunCommand(Runfile("tests/integration/make_certs.sh") + " " + dir_ + " " + name, &err);
    INFO(err);
    REQUIRE(code == 0);
  }
  std::string ca(const std::string& name) const { return dir_ + "/" + name + "-ca.pem"; }
  std::string cert(const std::string& name) const { return dir_ + "/" + name + "-cert.pem"; }
  std::string key(const std::string& name) const { return dir_ + "/" + name + "-key.pem"; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// GetServerInfo over a fresh connection with these client files.
grpc::Status Probe(const Daemon& daemon, const client::ClientFiles& files) {
  static int connection = 0;
  absl::StatusOr<client::ClientIdentity> identity =
      client::LoadClientIdentity(files, [](const std::string&) { return std::nullopt; });
  REQUIRE(identity.ok());
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("pgqrs.test.connection", ++connection);
  auto stub =
      v1::AdminService::NewStub(client::NewClientChannel(daemon.address(), *identity, args));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::ServerInfo info;
  return stub->GetServerInfo(&context, v1::GetServerInfoRequest(), &info);
}

client::ClientFiles TrustCa(const std::string& ca) {
  client::ClientFiles files;
  files.tls_ca = ca;
  return files;
}

TEST_CASE("TLS: a client trusting the server's CA connects; others are refused",
          "[integration][tls]") {
  Certs certs;
  certs.Make("server");
  certs.Make("impostor");
  Daemon daemon({"--dsn=sqlite::memory:", "--tls_cert=" + certs.cert("server"),
                 "--tls_key=" + certs.key("server")});
  CHECK(Probe(daemon, TrustCa(certs.ca("server"))).ok());
  CHECK(Probe(daemon, TrustCa(certs.ca("impostor"))).error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(Probe(daemon, client::ClientFiles()).error_code() == grpc::StatusCode::UNAVAILABLE);

  std::string pgqrs = Runfile("tools/pgqrs/pgqrs") + " --server=" + daemon.address();
  std::string err;
  CHECK(RunCommand(pgqrs + " --tls-ca=" + certs.ca("server") + " admin info", &err).first == 0);
  CHECK(RunCommand(pgqrs + " admin info", &err).first == 1);
}

TEST_CASE("mTLS: only a client certificate signed by --tls_client_ca gets in",
          "[integration][tls]") {
  Certs certs;
  certs.Make("server");
  certs.Make("client");
  certs.Make("stranger");
  Daemon daemon({"--dsn=sqlite::memory:", "--tls_cert=" + certs.cert("server"),
                 "--tls_key=" + certs.key("server"), "--tls_client_ca=" + certs.ca("client")});
  client::ClientFiles files = TrustCa(certs.ca("server"));
  CHECK(Probe(daemon, files).error_code() == grpc::StatusCode::UNAVAILABLE);  // no cert
  files.tls_cert = certs.cert("stranger");
  files.tls_key = certs.key("stranger");
  CHECK(Probe(daemon, files).error_code() == grpc::StatusCode::UNAVAILABLE);
  files.tls_cert = certs.cert("client");
  files.tls_key = certs.key("client");
  CHECK(Probe(daemon, files).ok());

  std::string pgqrs = Runfile("tools/pgqrs/pgqrs") + " --server=" + daemon.address() +
                      " --tls-ca=" + certs.ca("server");
  std::string err;
  CHECK(RunCommand(pgqrs + " --tls-cert=" + certs.cert("client") +
                       " --tls-key=" + certs.key("client") + " admin info",
                   &err)
            .first == 0);
}

TEST_CASE("a certificate replaced on disk is served without a restart", "[integration][tls]") {
  Certs certs;
  certs.Make("old");
  certs.Make("new");
  std::string live_cert = certs.dir() + "/live-cert.pem";
  std::string live_key = certs.dir() + "/live-key.pem";
  std::filesystem::copy_file(certs.cert("old"), live_cert);
  std::filesystem::copy_file(certs.key("old"), live_key);
  Daemon daemon({"--dsn=sqlite::memory:", "--tls_cert=" + live_cert, "--tls_key=" + live_key,
                 "--tls_reload_interval_s=1"});
  REQUIRE(Probe(daemon, TrustCa(certs.ca("old"))).ok());
  REQUIRE_FALSE(Probe(daemon, TrustCa(certs.ca("new"))).ok());

  // Renew: new files appear under the same names (rename, as certificate tools do).
  std::filesystem::copy_file(certs.key("new"), live_key + ".tmp");
  std::filesystem::copy_file(certs.cert("new"), live_cert + ".tmp");
  std::filesystem::rename(live_key + ".tmp", live_key);
  std::filesystem::rename(live_cert + ".tmp", live_cert);

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  bool switched = false;
  while (!switched && std::chrono::steady_clock::now() < deadline) {
    switched = Probe(daemon, TrustCa(certs.ca("new"))).ok();
    if (!switched) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  CHECK(switched);
  CHECK_FALSE(Probe(daemon, TrustCa(certs.ca("old"))).ok());
  CHECK(daemon.Log().find("stopped") == std::string::npos);  // the same process serves on
}

TEST_CASE("a non-loopback listener needs TLS and authentication, or --insecure_listen",
          "[integration][tls]") {
  Certs certs;
  certs.Make("server");
  std::string tokens = TempPath("tokens");
  std::ofstream(tokens) << "# no tokens yet\n";
  std::string pgqrsd = Runfile("server/pgqrsd") + " --dsn=sqlite::memory: --listen=0.0.0.0:0";
  std::string tls = " --tls_cert=" + certs.cert("server") + " --tls_key=" + certs.key("server");
  std::string err;
  CHECK(RunCommand(pgqrsd + tls, &err).first == 2);  // TLS without authentication
  CHECK(err.find("--auth_tokens_file") != std::string::npos);
  CHECK(RunCommand(pgqrsd + " --auth_tokens_file=" + tokens, &err).first == 2);
  RunCommand("timeout 2 " + pgqrsd + tls + " --auth_tokens_file=" + tokens, &err);
  CHECK(err.find("listening on 0.0.0.0:") != std::string::npos);
  CHECK(err.find("--insecure_listen") == std::string::npos);
  CHECK(RunCommand(pgqrsd + " --tls_cert=/nonexistent --tls_key=/nonexistent", &err).first != 0);
}

}  // namespace
}  // namespace pgqrs::testing
