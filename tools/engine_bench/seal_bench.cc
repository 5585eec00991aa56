// The cost of sealing and opening one database page (engine/crypto/page_cipher.h): what
// encryption adds per WAL frame written and per page read from disk.
//
//   bazel build -c opt //tools/engine_bench:seal_bench
//   bazel-bin/tools/engine_bench/seal_bench --pages=20000 --rounds=10
//
// Prints the CPU time per 4 KiB page of the fastest round (the one least disturbed by other
// load) for a seal into another buffer (as into a WAL frame), a seal in place and an open.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/crypto/page_cipher.h"
#include "tools/engine_bench/bench_args.h"

namespace {

using pgqrs::engine_bench::Check;
using pgqrs::engine_bench::FlagValue;
using pgqrs::engine_bench::Take;

double CpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

// The CPU microseconds per page of the fastest of `rounds` rounds of `pages` calls of `op`.
template <typename Op>
double FastestRound(int rounds, int pages, Op op) {
  double best = 1e9;
  for (int r = 0; r < rounds; ++r) {
    const double t0 = CpuSeconds();
    for (int i = 0; i < pages; ++i) op(static_cast<uint32_t>(2 + i % 1000));
    best = std::min(best, (CpuSeconds() - t0) * 1e6 / pages);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int pages = 20000, rounds = 10;
  for (int i = 1; i < argc; ++i) {
    if (const char* v = FlagValue(argv[i], "pages")) {
      pages = std::max(1, std::atoi(v));
    } else if (const char* v = FlagValue(argv[i], "rounds")) {
      rounds = std::max(1, std::atoi(v));
    } else {
      pgqrs::engine_bench::Die(std::string("unknown flag ") + argv[i] +
                               " (flags: --pages --rounds)");
    }
  }
  auto key = Take(pgqrs::engine::EncryptionKey::Parse(std::string(64, 'a')), "key");
  pgqrs::engine::DbHeader header;
  Check(pgqrs::engine::InitEncryptionHeader(*key, 1, &header), "header");
  auto cipher = Take(pgqrs::engine::PageCipher::Create(key, header), "cipher");
  std::vector<uint8_t> plain(header.page_size), sealed(header.page_size);
  for (size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<uint8_t>(i * 31);
  const double seal = FastestRound(rounds, pages, [&](uint32_t pgno) {
    Check(cipher->Seal(pgno, plain.data(), sealed.data()), "seal");
  });
  std::vector<uint8_t> page = plain;
  const double in_place = FastestRound(rounds, pages, [&](uint32_t pgno) {
    Check(cipher->Seal(pgno, page.data(), page.data()), "seal in place");
  });
  // Opens the same sealed image every time (an open leaves the plain page behind).
  Check(cipher->Seal(7, plain.data(), sealed.data()), "seal");
  const double open = FastestRound(rounds, pages, [&](uint32_t) {
    page = sealed;
    Check(cipher->Open(7, page.data()), "open");
  });
  std::printf("page %u bytes, fastest of %d rounds of %d pages, CPU us per page (load %.2f):\n",
              header.page_size, rounds, pages, pgqrs::engine_bench::LoadAverage());
  std::printf("seal %.3f  seal in place %.3f  open %.3f (includes a %u-byte copy)\n", seal,
              in_place, open, header.page_size);
  return 0;
}
