// PageCipher: AES-256-GCM for whole database pages (engine/FORMAT.md section 5).
//
// A sealed page is: [clear prefix][ciphertext up to the usable size][nonce 12][tag 16]. The
// clear prefix is the 100-byte database header on page 1 and empty elsewhere. The nonce and
// tag live in the page's reserved bytes. The additional authenticated data binds the page
// number, the database id and the key id (and, on page 1, the clear header), so a page moved
// within a file or copied from another database fails authentication.
//
// Thread safety: Open is thread-safe (it serializes on its context); Seal is not (the pager's
// writer serializes it).
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/crypto/key.h"
#include "engine/format/db_header.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace pgqrs::engine {

inline constexpr uint32_t kNonceBytes = 12;
inline constexpr uint32_t kTagBytes = 16;
inline constexpr uint8_t kCipherReservedBytes = kNonceBytes + kTagBytes;

// Makes `header` (of a database being created) an encrypted one: reserved bytes for the
// nonce and tag, a fresh random database id, `key_id` and the key check value.
absl::Status InitEncryptionHeader(const EncryptionKey& key, uint32_t key_id, DbHeader* header);

// Sets the key id and key check value of encrypted `header` for `key` (keeps its database id).
void SetHeaderKey(const EncryptionKey& key, uint32_t key_id, DbHeader* header);

// Checks, before anything is written, that `key` (nullptr: none given) fits the database whose
// header is `header`: FailedPrecondition for a missing key or a key given for a plain file,
// PermissionDenied for a wrong key id or key. Messages never contain key material.
absl::Status CheckKeyMatchesHeader(const DbHeader& header, const EncryptionKey* key,
                                   uint32_t key_id);

class PageCipher {
 public:
  // A cipher for the encrypted database described by `header`.
  static absl::StatusOr<std::unique_ptr<PageCipher>> Create(
      std::shared_ptr<const EncryptionKey> key, const DbHeader& header);
  ~PageCipher();
  PageCipher(const PageCipher&) = delete;
  PageCipher& operator=(const PageCipher&) = delete;

  // Encrypts page `pgno` from `plain` into `sealed` (page_size bytes each; they may be the
  // same buffer) with the next nonce: a random 96-bit starting point per cipher, incremented
  // for every page (cheaper than a random draw per page, and never repeated within a cipher).
  absl::Status Seal(uint32_t pgno, const uint8_t* plain, uint8_t* sealed);
  // Authenticates and decrypts page `pgno` in place. DataLoss naming the page if it fails
  // authentication; the buffer's contents are then unspecified.
  absl::Status Open(uint32_t pgno, uint8_t* page);

  uint32_t page_size() const { return page_size_; }

 private:
  PageCipher(std::shared_ptr<const EncryptionKey> key, const DbHeader& header);
  // The additional authenticated data of page `pgno` (the header is appended for page 1).
  std::array<uint8_t, 20> Aad(uint32_t pgno) const;

  std::shared_ptr<const EncryptionKey> key_;
  uint32_t page_size_;
  uint32_t usable_size_;
  std::array<uint8_t, kDatabaseIdBytes> database_id_;
  uint32_t key_id_;
  std::array<uint8_t, kNonceBytes> next_nonce_;
  EVP_CIPHER_CTX* enc_ = nullptr;
  absl::Mutex dec_mu_;
  EVP_CIPHER_CTX* dec_ ABSL_GUARDED_BY(dec_mu_) = nullptr;
};

}  // namespace pgqrs::engine
