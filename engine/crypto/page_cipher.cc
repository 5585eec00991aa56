#include "engine/crypto/page_cipher.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/format/varint.h"
#include "openssl/evp.h"
#include "openssl/rand.h"

namespace pgqrs::engine {
namespace {

// Key check value: the first 4 bytes of SHA-256(label || database id || key). It tells a wrong
// key from a damaged page 1 at open without revealing anything useful about the key.
uint32_t KeyCheck(const EncryptionKey& key, const std::array<uint8_t, kDatabaseIdBytes>& id) {
  static constexpr char kLabel[] = "pgqrs engine key check v1";
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), nullptr);
  EVP_DigestUpdate(md, kLabel, sizeof(kLabel) - 1);
  EVP_DigestUpdate(md, id.data(), id.size());
  EVP_DigestUpdate(md, key.bytes(), kKeyBytes);
  EVP_DigestFinal_ex(md, digest, &len);
  EVP_MD_CTX_free(md);
  return Get32(digest);
}

// Adds 1 to a big-endian counter, wrapping at 2^96.
void IncrementBigEndian(std::array<uint8_t, kNonceBytes>* n) {
  for (int i = kNonceBytes - 1; i >= 0; --i) {
    if (++(*n)[i] != 0) return;
  }
}

absl::Status CryptoError(const char* what) {
  return absl::InternalError(absl::StrCat("AES-256-GCM: ", what, " failed"));
}

}  // namespace

absl::Status InitEncryptionHeader(const EncryptionKey& key, uint32_t key_id, DbHeader* header) {
  header->reserved = kCipherReservedBytes;
  do {
    if (RAND_bytes(header->database_id.data(), kDatabaseIdBytes) != 1) {
      return CryptoError("random database id");
    }
  } while (!header->encrypted());  // an all-zero id would mean "not encrypted"
  SetHeaderKey(key, key_id, header);
  return absl::OkStatus();
}

void SetHeaderKey(const EncryptionKey& key, uint32_t key_id, DbHeader* header) {
  header->key_id = key_id;
  header->key_check = KeyCheck(key, header->database_id);
}

absl::Status CheckKeyMatchesHeader(const DbHeader& header, const EncryptionKey* key,
                                   uint32_t key_id) {
  if (!header.encrypted()) {
    if (key == nullptr) return absl::OkStatus();
    return absl::FailedPreconditionError(
        "database is not encrypted, but an encryption key was given");
  }
  if (key == nullptr) {
    return absl::FailedPreconditionError("database is encrypted and no encryption key was given");
  }
  if (header.reserved != kCipherReservedBytes) {
    return absl::DataLossError(absl::StrCat("encrypted database has ", header.reserved,
                                            " reserved bytes per page, not ",
                                            kCipherReservedBytes));
  }
  if (header.key_id != key_id) {
    return absl::PermissionDeniedError(
        absl::StrCat("database is encrypted with key id ", header.key_id, ", not key id ", key_id));
  }
  if (header.key_check != KeyCheck(*key, header.database_id)) {
    return absl::PermissionDeniedError("wrong encryption key for this database");
  }
  return absl::OkStatus();
}

PageCipher::PageCipher(std::shared_ptr<const EncryptionKey> key, const DbHeader& header)
    : key_(std::move(key)),
      page_size_(header.page_size),
      usable_size_(header.usable_size()),
      database_id_(header.database_id),
      key_id_(header.key_id) {}

PageCipher::~PageCipher() {
  EVP_CIPHER_CTX_free(enc_);  // also wipes the expanded key schedule
  EVP_CIPHER_CTX_free(dec_);
}

absl::StatusOr<std::unique_ptr<PageCipher>> PageCipher::Create(
    std::shared_ptr<const EncryptionKey> key, const DbHeader& header) {
  if (!header.encrypted() || header.reserved != kCipherReservedBytes) {
    return absl::InvalidArgumentError("page cipher needs an encrypted database header");
  }
  std::unique_ptr<PageCipher> c(new PageCipher(std::move(key), header));
  c->enc_ = EVP_CIPHER_CTX_new();
  c->dec_ = EVP_CIPHER_CTX_new();
  if (c->enc_ == nullptr || c->dec_ == nullptr) return CryptoError("context allocation");
  // The key schedule is computed once here; each page only sets its nonce.
  if (RAND_bytes(c->next_nonce_.data(), kNonceBytes) != 1) return CryptoError("random nonce");
  if (EVP_EncryptInit_ex(c->enc_, EVP_aes_256_gcm(), nullptr, c->key_->bytes(), nullptr) != 1 ||
      EVP_DecryptInit_ex(c->dec_, EVP_aes_256_gcm(), nullptr, c->key_->bytes(), nullptr) != 1) {
    return CryptoError("key setup");
  }
  return c;
}

std::array<uint8_t, 20> PageCipher::Aad(uint32_t pgno) const {
  std::array<uint8_t, 20> aad;
  Put32(aad.data(), pgno);
  std::memcpy(aad.data() + 4, database_id_.data(), kDatabaseIdBytes);
  Put32(aad.data() + 4 + kDatabaseIdBytes, key_id_);
  return aad;
}

absl::Status PageCipher::Seal(uint32_t pgno, const uint8_t* plain, uint8_t* sealed) {
  const uint32_t start = pgno == 1 ? kDbHeaderSize : 0;
  uint8_t* nonce = sealed + usable_size_;
  uint8_t* tag = nonce + kNonceBytes;
  if (plain != sealed) std::memcpy(sealed, plain, start);
  std::memcpy(nonce, next_nonce_.data(), kNonceBytes);
  IncrementBigEndian(&next_nonce_);
  const std::array<uint8_t, 20> aad = Aad(pgno);
  int len = 0;
  if (EVP_EncryptInit_ex(enc_, nullptr, nullptr, nullptr, nonce) != 1 ||
      EVP_EncryptUpdate(enc_, nullptr, &len, aad.data(), aad.size()) != 1 ||
      (start > 0 && EVP_EncryptUpdate(enc_, nullptr, &len, sealed, start) != 1) ||
      EVP_EncryptUpdate(enc_, sealed + start, &len, plain + start, usable_size_ - start) != 1 ||
      EVP_EncryptFinal_ex(enc_, sealed + usable_size_, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(enc_, EVP_CTRL_GCM_GET_TAG, kTagBytes, tag) != 1) {
    return CryptoError("encryption");
  }
  return absl::OkStatus();
}

absl::Status PageCipher::Open(uint32_t pgno, uint8_t* page) {
  absl::MutexLock l(&dec_mu_);  // the writer and snapshot readers share the context
  const uint32_t start = pgno == 1 ? kDbHeaderSize : 0;
  const uint8_t* nonce = page + usable_size_;
  uint8_t tag[kTagBytes];
  std::memcpy(tag, nonce + kNonceBytes, kTagBytes);
  const std::array<uint8_t, 20> aad = Aad(pgno);
  int len = 0;
  if (EVP_DecryptInit_ex(dec_, nullptr, nullptr, nullptr, nonce) != 1 ||
      EVP_DecryptUpdate(dec_, nullptr, &len, aad.data(), aad.size()) != 1 ||
      (start > 0 && EVP_DecryptUpdate(dec_, nullptr, &len, page, start) != 1) ||
      EVP_DecryptUpdate(dec_, page + start, &len, page + start, usable_size_ - start) != 1 ||
      EVP_CIPHER_CTX_ctrl(dec_, EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) != 1) {
    return CryptoError("decryption");
  }
  if (EVP_DecryptFinal_ex(dec_, page + usable_size_, &len) != 1) {
    return absl::DataLossError(absl::StrCat("page ", pgno, " fails authentication"));
  }
  return absl::OkStatus();
}

}  // namespace pgqrs::engine
